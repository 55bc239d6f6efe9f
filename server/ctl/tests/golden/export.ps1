# Sesame: provisional passwords of office 01234.
# Sets each mailbox's password and forces a change at next logon. Run it in a session with the
# ActiveDirectory module and the right to reset these accounts' passwords.
# This file contains passwords: delete it as soon as it has been run.
#Requires -Modules ActiveDirectory
$ErrorActionPreference = 'Stop'

# Jean O'Dupont
$user = Get-ADUser -Filter "UserPrincipalName -eq 'dupont.jean@01234.mailnot.fr' -or mail -eq 'dupont.jean@01234.mailnot.fr'"
if (-not $user) { throw "No account for dupont.jean@01234.mailnot.fr" }
Set-ADAccountPassword -Identity $user -Reset -NewPassword (ConvertTo-SecureString '-aB3#xy''zPQRS7k' -AsPlainText -Force)
Set-ADUser -Identity $user -ChangePasswordAtLogon $true

# =Éloïse Martin, « clé »
$user = Get-ADUser -Filter "UserPrincipalName -eq 'martin.eloise@01234.mailnot.fr' -or mail -eq 'martin.eloise@01234.mailnot.fr'"
if (-not $user) { throw "No account for martin.eloise@01234.mailnot.fr" }
Set-ADAccountPassword -Identity $user -Reset -NewPassword (ConvertTo-SecureString 'Zx9!qwertyUIOP' -AsPlainText -Force)
Set-ADUser -Identity $user -ChangePasswordAtLogon $true

Write-Host "2 account(s) of office 01234 updated."
