//! The export for the mail administrator (`sesamectl provisional export`, the dashboard): the
//! files used to set the provisional passwords on Exchange (Active Directory) with "change at
//! next logon".

use secrecy::ExposeSecret;

use crate::{CsvOut, Letter, rfc3339};

/// CSV: `address,display_name,provisional_password,expires_at`. Every cell is neutralised for
/// spreadsheets like any CSV sesamectl writes, except the password: the file is read by the mail
/// administrator's script (`Import-Csv` then `Set-ADAccountPassword`), which would set a quote
/// in front of a password starting with `-` as part of the password. The server never generates
/// a password that starts with a formula character, so the column is safe in a spreadsheet too.
pub fn csv(passwords: &[Letter]) -> std::io::Result<String> {
    /// The password's column, written exactly.
    const PASSWORD: usize = 2;
    let mut bytes = Vec::new();
    let mut writer = CsvOut::new(&mut bytes);
    writer.record(["address", "display_name", "provisional_password", "expires_at"])?;
    for p in passwords {
        let expires_at = rfc3339(p.expires_at);
        writer.record_keeping(
            [
                p.address.as_str(),
                p.display_name.as_str(),
                p.password.expose_secret(),
                expires_at.as_str(),
            ],
            &[PASSWORD],
        )?;
    }
    writer.flush()?;
    drop(writer);
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

/// A PowerShell single-quoted string literal.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A PowerShell script that sets each password and forces a change at next logon.
pub fn powershell(office: &str, passwords: &[Letter]) -> String {
    let mut script = format!(
        "# Sesame: provisional passwords of office {office}.\r\n\
         # Sets each mailbox's password and forces a change at next logon. Run it in a session with the\r\n\
         # ActiveDirectory module and the right to reset these accounts' passwords.\r\n\
         # This file contains passwords: delete it as soon as it has been run.\r\n\
         #Requires -Modules ActiveDirectory\r\n\
         $ErrorActionPreference = 'Stop'\r\n\r\n"
    );
    for p in passwords {
        let address = quoted(&p.address);
        script.push_str(&format!("# {}\r\n", p.display_name.replace(['\r', '\n'], " ")));
        script.push_str(&format!(
            "$user = Get-ADUser -Filter \"UserPrincipalName -eq {address} -or mail -eq {address}\"\r\n"
        ));
        script
            .push_str(&format!("if (-not $user) {{ throw \"No account for {}\" }}\r\n", p.address));
        script.push_str(&format!(
            "Set-ADAccountPassword -Identity $user -Reset -NewPassword (ConvertTo-SecureString {} -AsPlainText -Force)\r\n",
            quoted(p.password.expose_secret())
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

    fn letter(display_name: &str, password: &str) -> Letter {
        Letter {
            address: "dupont.jean@01234.mailnot.fr".into(),
            display_name: display_name.into(),
            first_name: "Jean".into(),
            last_name: "Dupont".into(),
            password: password.into(),
            expires_at: time::macros::datetime!(2026-03-01 00:00 UTC),
        }
    }

    #[test]
    fn powershell_quotes_values_and_forces_a_change_at_next_logon() {
        let p = letter("Jean O'Dupont", "ab'c#2D");
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

    #[test]
    fn the_csv_export_neutralises_names_but_keeps_passwords_exact() {
        let p = letter("=HYPERLINK(\"http://x\",\"y\")", "-aB3#xyzPQRS7k");
        let csv = csv(&[p]).unwrap();
        let mut reader = ::csv::Reader::from_reader(csv.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[1], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(&row[2], "-aB3#xyzPQRS7k", "what Import-Csv hands to Set-ADAccountPassword");
    }
}
