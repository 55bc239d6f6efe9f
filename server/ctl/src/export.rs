//! `sesamectl provisional export`: the files the mail administrator uses to set the provisional
//! passwords on Exchange (Active Directory) with "change at next logon".

use sesame_proto::v1 as pb;

/// CSV: `address,display_name,provisional_password,expires_at`.
pub(crate) fn csv(passwords: &[pb::ProvisionalPassword]) -> std::io::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["address", "display_name", "provisional_password", "expires_at"])
        .map_err(std::io::Error::other)?;
    for p in passwords {
        writer
            .write_record([&p.mailbox, &p.display_name, &p.provisional_password, &p.expires_at])
            .map_err(std::io::Error::other)?;
    }
    let bytes = writer.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

/// A PowerShell single-quoted string literal.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A PowerShell script that sets each password and forces a change at next logon.
pub(crate) fn powershell(office: &str, passwords: &[pb::ProvisionalPassword]) -> String {
    let mut script = format!(
        "# Sesame: provisional passwords of office {office}.\r\n\
         # Sets each mailbox's password and forces a change at next logon. Run it in a session with the\r\n\
         # ActiveDirectory module and the right to reset these accounts' passwords.\r\n\
         # This file contains passwords: delete it as soon as it has been run.\r\n\
         #Requires -Modules ActiveDirectory\r\n\
         $ErrorActionPreference = 'Stop'\r\n\r\n"
    );
    for p in passwords {
        let address = quoted(&p.mailbox);
        script.push_str(&format!("# {}\r\n", p.display_name.replace(['\r', '\n'], " ")));
        script.push_str(&format!(
            "$user = Get-ADUser -Filter \"UserPrincipalName -eq {address} -or mail -eq {address}\"\r\n"
        ));
        script
            .push_str(&format!("if (-not $user) {{ throw \"No account for {}\" }}\r\n", p.mailbox));
        script.push_str(&format!(
            "Set-ADAccountPassword -Identity $user -Reset -NewPassword (ConvertTo-SecureString {} -AsPlainText -Force)\r\n",
            quoted(&p.provisional_password)
        ));
        script.push_str("Set-ADUser -Identity $user -ChangePasswordAtLogon $true\r\n\r\n");
    }
    script.push_str(&format!(
        "Write-Host \"{} account(s) of office {office} updated.\"\r\n",
        passwords.len()
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_quotes_values_and_forces_a_change_at_next_logon() {
        let p = pb::ProvisionalPassword {
            mailbox: "dupont.jean@01234.mailnot.fr".into(),
            display_name: "Jean O'Dupont".into(),
            provisional_password: "ab'c#2D".into(),
            ..Default::default()
        };
        let script = powershell("01234", std::slice::from_ref(&p));
        assert!(
            script.contains("ConvertTo-SecureString 'ab''c#2D' -AsPlainText -Force"),
            "{script}"
        );
        assert!(script.contains("Set-ADAccountPassword -Identity $user -Reset"));
        assert!(script.contains("Set-ADUser -Identity $user -ChangePasswordAtLogon $true"));
        let csv = csv(&[p]).unwrap();
        assert!(
            csv.starts_with("address,display_name,provisional_password,expires_at\r\n")
                || csv.starts_with("address,display_name,provisional_password,expires_at\n")
        );
    }
}
