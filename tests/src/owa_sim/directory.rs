//! The simulated Active Directory behind the pages: accounts, passwords, lockout, and the password
//! policy that `NetUserChangePassword` applies (length, complexity, history, minimum age).

use super::{ChangeResult, LogonFormat, SimOptions};

/// One account. Passwords are plain strings: this is a test fake.
#[derive(Debug, Clone)]
struct Account {
    user: String,
    password: String,
    must_change: bool,
    locked: bool,
    bad_count: u32,
    /// Previous passwords, oldest first.
    previous: Vec<String>,
    /// Changed since the last `age_passwords`: the minimum age forbids another direct change.
    changed_recently: bool,
}

/// The accounts.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    accounts: Vec<Account>,
}

/// What a login with a user name and password comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Logon {
    /// Right password; the account, as added.
    LoggedIn(String),
    /// Right password, but the account must change it.
    MustChange(String),
    /// Unknown user, wrong password or locked account.
    Failed,
}

/// A successful change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    /// The account, as added.
    pub(crate) user: String,
    /// It did not have to change its password.
    pub(crate) direct: bool,
}

fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn local_part(user: &str) -> &str {
    user.split_once('@').map_or(user, |(local, _)| local)
}

/// `DOMAIN\user` split in two, when it is exactly that.
fn split_domain(typed: &str) -> Option<(&str, &str)> {
    let (domain, user) = typed.split_once('\\')?;
    (!domain.is_empty() && !user.is_empty() && !user.contains('\\')).then_some((domain, user))
}

/// How many of lower case, upper case, digits and other characters the password has.
fn classes(password: &str) -> usize {
    let lower = password.chars().any(char::is_lowercase);
    let upper = password.chars().any(char::is_uppercase);
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let other =
        password.chars().any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit());
    [lower, upper, digit, other].into_iter().filter(|&b| b).count()
}

impl Account {
    /// Counts a bad password, locking the account at the threshold.
    fn bad_password(&mut self, options: &SimOptions) {
        self.bad_count += 1;
        if options.lockout_threshold > 0 && self.bad_count >= options.lockout_threshold {
            self.locked = true;
        }
    }

    fn accepts_new(&self, options: &SimOptions, new: &str) -> bool {
        let recent = self.previous.iter().rev().take(options.history);
        new.chars().count() >= options.min_length
            && classes(new) >= 3
            && new != self.password
            && !recent.into_iter().any(|p| p == new)
            // Minimum age: one change per `age_passwords`, unless the account must change.
            && (self.must_change || !self.changed_recently)
    }
}

impl Directory {
    fn find(&self, user: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| same(&a.user, user))
    }

    fn find_mut(&mut self, user: &str) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| same(&a.user, user))
    }

    /// The account a login names: the address, or in FullDomain mode also `DOMAIN\localpart`.
    fn index_for_login(&self, options: &SimOptions, typed: &str) -> Option<usize> {
        if let Some(i) = self.accounts.iter().position(|a| same(&a.user, typed)) {
            return Some(i);
        }
        match options.logon_format {
            LogonFormat::PrincipalName => None,
            LogonFormat::FullDomain => self.index_for_domain_user(options, typed),
        }
    }

    /// The account `DOMAIN\localpart` names.
    fn index_for_domain_user(&self, options: &SimOptions, typed: &str) -> Option<usize> {
        let (domain, user) = split_domain(typed)?;
        if !same(domain, &options.domain) {
            return None;
        }
        self.accounts.iter().position(|a| same(local_part(&a.user), user))
    }

    /// The account the change page's `username` names: the string as typed in PrincipalName mode,
    /// exactly `DOMAIN\user` in FullDomain mode.
    fn index_for_change(&self, options: &SimOptions, typed: &str) -> Option<usize> {
        match options.logon_format {
            LogonFormat::PrincipalName => self.accounts.iter().position(|a| same(&a.user, typed)),
            LogonFormat::FullDomain => self.index_for_domain_user(options, typed),
        }
    }

    pub(crate) fn add(&mut self, user: &str, password: &str, must_change: bool) {
        if let Some(account) = self.find_mut(user) {
            account.password = password.to_owned();
            account.must_change = must_change;
            return;
        }
        self.accounts.push(Account {
            user: user.to_owned(),
            password: password.to_owned(),
            must_change,
            locked: false,
            bad_count: 0,
            previous: Vec::new(),
            changed_recently: false,
        });
    }

    pub(crate) fn is_locked(&self, user: &str) -> bool {
        self.find(user).is_some_and(|a| a.locked)
    }

    pub(crate) fn must_change(&self, user: &str) -> bool {
        self.find(user).is_some_and(|a| a.must_change)
    }

    pub(crate) fn password_of(&self, user: &str) -> Option<String> {
        self.find(user).map(|a| a.password.clone())
    }

    pub(crate) fn age_passwords(&mut self) {
        for account in &mut self.accounts {
            account.changed_recently = false;
        }
    }

    /// A login on `auth.owa` (IIS `LogonUser`).
    pub(crate) fn logon(&mut self, options: &SimOptions, typed: &str, password: &str) -> Logon {
        let Some(i) = self.index_for_login(options, typed) else { return Logon::Failed };
        let Some(account) = self.accounts.get_mut(i) else { return Logon::Failed };
        if account.locked {
            return Logon::Failed;
        }
        if account.password != password {
            account.bad_password(options);
            return Logon::Failed;
        }
        account.bad_count = 0;
        if account.must_change {
            Logon::MustChange(account.user.clone())
        } else {
            Logon::LoggedIn(account.user.clone())
        }
    }

    /// A change on `expiredpassword.aspx` (`NetUserChangePassword`), in Exchange's order.
    pub(crate) fn change(
        &mut self,
        options: &SimOptions,
        typed: &str,
        old: &str,
        new1: &str,
        new2: &str,
    ) -> Result<Changed, ChangeResult> {
        if new1 != new2 {
            return Err(ChangeResult::PasswordConflict);
        }
        let i = self.index_for_change(options, typed).ok_or(ChangeResult::InvalidCredentials)?;
        let account = self.accounts.get_mut(i).ok_or(ChangeResult::InvalidCredentials)?;
        if account.locked {
            return Err(ChangeResult::LockedOut);
        }
        if account.password != old {
            account.bad_password(options);
            return Err(ChangeResult::InvalidCredentials);
        }
        account.bad_count = 0;
        if !account.accepts_new(options, new1) {
            return Err(ChangeResult::InvalidNewPassword);
        }
        let direct = !account.must_change;
        let old = std::mem::replace(&mut account.password, new1.to_owned());
        account.previous.push(old);
        account.must_change = false;
        account.changed_recently = true;
        Ok(Changed { user: account.user.clone(), direct })
    }
}
