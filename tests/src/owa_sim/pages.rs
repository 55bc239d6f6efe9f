//! The HTML of the simulated pages, in French and English: the logon redirect stub, the logon
//! form, the expired-password form and its success page, the OWA start page and the sign-out page.
//!
//! Markup follows the captured 15.1 logon page and `agent/src/owa/PROTOCOL.md`; the
//! expired-password page's markup and all French error texts are not public, so those are our
//! best rendering (PROTOCOL.md, "Still unknown: capture from the real server").
//! French is written with real UTF-8 characters, apostrophes as `'`, no entities.

use super::response::{html_encode, url_encode};
use super::{ChangeResult, LogonFormat, SimOptions};

/// Ids and field names as the mixed-case mode writes them.
const MIXED_CASE: &[(&str, &str)] = &[
    ("id=\"userNameLabel\"", "id=\"UserNameLabel\""),
    ("id=\"username\" name=\"username\"", "ID=\"UserName\" NAME=\"UserName\""),
    ("id=\"password\"", "id=\"Password\""),
    ("id=\"signInErrorDiv\"", "id=\"SignInErrorDiv\""),
    ("id=\"expltxt\"", "id=\"ExplTxt\""),
    ("name=\"logonForm\"", "name=\"LogonForm\""),
    ("name=\"oldPwd\"", "name=\"OldPwd\""),
    ("name=\"destination\"", "name=\"Destination\""),
];

/// A page as the options want it written: mixed-case ids, .NET-encoded texts. The pages hold no
/// `'` or non-ASCII character outside their texts, so the whole page can be encoded.
pub(crate) fn dress(options: &SimOptions, mut html: String) -> String {
    if options.mixed_case_ids {
        for (from, to) in MIXED_CASE {
            html = html.replace(from, to);
        }
    }
    if options.dotnet_encoding {
        let mut out = String::with_capacity(html.len());
        for c in html.chars() {
            match c {
                '\'' => out.push_str("&#39;"),
                c if u32::from(c) >= 0xa0 => out.push_str(&format!("&#{};", u32::from(c))),
                c => out.push(c),
            }
        }
        html = out;
    }
    html
}

/// The comment every logon page carries (Microsoft's monitoring requires it).
pub(crate) const LOGON_GUID: &str = "<!-- {57A118C6-2DA9-419d-BE9A-F92B0F9A418B} -->";

/// The build in resource paths and `X-OWA-Version`.
pub(crate) const OWA_BUILD: &str = "15.1.2507";
pub(crate) const OWA_VERSION: &str = "15.1.2507.6";

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Fr,
    En,
}

/// The strings of one language.
struct Texts {
    code: &'static str,
    principal_name_label: &'static str,
    full_domain_label: &'static str,
    password_label: &'static str,
    show_password: &'static str,
    sign_in: &'static str,
    expired_header: &'static str,
    old_password: &'static str,
    new_password: &'static str,
    confirm_password: &'static str,
    submit: &'static str,
    changed: &'static str,
    conflict: &'static str,
    invalid_new: &'static str,
    invalid_credentials: &'static str,
    locked_out: &'static str,
    /// A message no client knows (fault injection).
    unfamiliar: &'static str,
    signed_out: &'static str,
}

const FRENCH: Texts = Texts {
    code: "fr",
    principal_name_label: "Adresse de courrier :",
    full_domain_label: "Domaine\\nom d'utilisateur :",
    password_label: "Mot de passe :",
    show_password: "Afficher le mot de passe",
    sign_in: "se connecter",
    expired_header: "Votre mot de passe a expiré et vous devez le changer avant de vous \
                     connecter à Outlook.",
    old_password: "Mot de passe actuel :",
    new_password: "Nouveau mot de passe :",
    confirm_password: "Confirmer le nouveau mot de passe :",
    submit: "envoyer",
    changed: "Votre mot de passe a été modifié. Cliquez sur OK pour vous connecter avec votre \
              nouveau mot de passe.",
    conflict: "Les mots de passe que vous avez entrés ne correspondent pas. Retapez-les.",
    invalid_new: "Le mot de passe que vous avez entré ne respecte pas les exigences minimales de \
                  sécurité.",
    invalid_credentials: "Le nom d'utilisateur ou le mot de passe que vous avez entré est \
                          incorrect. Réessayez.",
    locked_out: "Votre compte a été verrouillé. Contactez votre support technique.",
    unfamiliar: "Une erreur inattendue s'est produite (0x80004005).",
    signed_out: "Vous vous êtes déconnecté d'Outlook. Fermez toutes les fenêtres du navigateur.",
};

const ENGLISH: Texts = Texts {
    code: "en",
    principal_name_label: "E-mail address:",
    full_domain_label: "Domain\\user name:",
    password_label: "Password:",
    show_password: "Show password",
    sign_in: "sign in",
    expired_header: "Your password has expired and you need to change it before you sign in to \
                     Outlook.",
    old_password: "Current password:",
    new_password: "New password:",
    confirm_password: "Confirm new password:",
    submit: "submit",
    changed: "Your password has been changed. Click OK to sign in with your new password.",
    conflict: "The passwords you entered don't match. Type them again.",
    invalid_new: "The password you entered doesn't meet the minimum security requirements.",
    invalid_credentials: "The user name or password you entered isn't correct. Try entering it \
                          again.",
    locked_out: "Your account has been locked. Contact your help desk.",
    unfamiliar: "An unexpected error occurred (0x80004005).",
    signed_out: "You have successfully signed out of Outlook. Close all browser windows.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Fr => &FRENCH,
        Lang::En => &ENGLISH,
    }
}

fn user_label(lang: Lang, format: LogonFormat) -> &'static str {
    match format {
        LogonFormat::PrincipalName => texts(lang).principal_name_label,
        LogonFormat::FullDomain => texts(lang).full_domain_label,
    }
}

/// The error text the change page shows for a failed change (and the logon page for reason=2).
pub(crate) fn error_text(lang: Lang, result: &ChangeResult) -> &'static str {
    let t = texts(lang);
    match result {
        ChangeResult::Changed => "",
        ChangeResult::PasswordConflict => t.conflict,
        ChangeResult::InvalidCredentials => t.invalid_credentials,
        ChangeResult::InvalidNewPassword => t.invalid_new,
        ChangeResult::LockedOut => t.locked_out,
        ChangeResult::Unprocessed => t.unfamiliar,
    }
}

/// The `<head>` shared by the auth pages, after the page-type and GUID comments.
fn head(page_type: &str, script: &str) -> String {
    format!(
        "<!-- Copyright (c) 2011 Microsoft Corporation.  All rights reserved. -->\r\n\
         <!-- OwaPage = {page_type} -->\r\n\r\n\
         {LOGON_GUID}\r\n\
         <head>\r\n\
         <meta http-equiv=\"X-UA-Compatible\" content=\"IE=10\" />\r\n\
         <link rel=\"shortcut icon\" href=\"/owa/auth/{OWA_BUILD}/themes/resources/favicon.ico\" \
         type=\"image/x-icon\">\r\n\
         <meta http-equiv=\"Content-Type\" content=\"text/html; CHARSET=utf-8\">\r\n\
         <meta name=\"Robots\" content=\"NOINDEX, NOFOLLOW\">\r\n\
         <title>Outlook</title>\r\n\
         <link rel=\"stylesheet\" type=\"text/css\" \
         href=\"/owa/auth/{OWA_BUILD}/themes/resources/logon.css\">\r\n\
         <script type=\"text/javascript\">\r\n{script}</script>\r\n\
         </head>\r\n"
    )
}

/// `a_sUrl` and `a_sLgn` as `RenderLogonHref` writes them.
fn logon_href(destination: &str, reason: u32) -> (String, String) {
    let url = format!("&url={}", url_encode(destination));
    let lgn = if reason == 0 {
        "logon.aspx?replaceCurrent=1".to_owned()
    } else {
        format!("logon.aspx?replaceCurrent=1&reason={reason}")
    };
    (url, lgn)
}

/// The small page `logon.aspx` renders without `replaceCurrent=1` for a non-downlevel browser:
/// its script navigates to `logon.aspx?replaceCurrent=1&url=…`.
pub(crate) fn logon_stub(destination: &str, reason: u32) -> String {
    let (url, lgn) = logon_href(destination, reason);
    let script = format!(
        "var a_fRC = 0;\r\nvar a_sUrl = \"{url}\";\r\nvar a_sLgn = \"{lgn}\";\r\n\
         var a_sCW = \"\";\r\n\
         function redir() {{ window.location.replace(a_sLgn + a_sUrl); }}\r\n\
         window.onload = redir;\r\n"
    );
    format!(
        "<!DOCTYPE html>\r\n<html>\r\n{}<body></body>\r\n</html>\r\n",
        head("ASP.auth_logon_aspx", &script)
    )
}

/// The full logon form (`replaceCurrent=1` or a downlevel client).
pub(crate) fn logon_page(
    lang: Lang,
    format: LogonFormat,
    destination: &str,
    reason: u32,
    action: &str,
) -> String {
    let t = texts(lang);
    let (url, lgn) = logon_href(destination, reason);
    let script = format!(
        "var a_fRC = 1;\r\nvar g_fFcs = 1;\r\nvar a_fLOff = 0;\r\nvar a_fCAC = 0;\r\n\
         var a_sUrl = \"{url}\";\r\nvar a_sLgn = \"{lgn}\";\r\nvar a_sCW = \"\";\r\n\
         function gbid(s) {{ return document.getElementById(s); }}\r\n\
         function clkLgn() {{\r\n\
         \x20   var u = gbid(\"username\").value;\r\n\
         \x20   document.cookie = \"logondata=acc=0&lgn=\" + u + \"; path=/\";\r\n\
         \x20   document.cookie = \"PBack=0; path=/\";\r\n\
         \x20   document.forms[0].submit();\r\n}}\r\n"
    );
    let error = if reason == 2 {
        format!(
            "<div id=\"signInErrorDiv\" class=\"signInError\" role=\"alert\">{}</div>\r\n",
            t.invalid_credentials
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\r\n<html dir=\"ltr\" lang=\"{code}\">\r\n{head}\
         <body class=\"signInBg\">\r\n\
         <noscript><div id=\"dvErr\">JavaScript</div></noscript>\r\n\
         <form action=\"{action}\" method=\"POST\" name=\"logonForm\" \
         ENCTYPE=\"application/x-www-form-urlencoded\" autocomplete=\"off\">\r\n\
         <input type=\"hidden\" name=\"destination\" value=\"{destination}\">\r\n\
         <input type=\"hidden\" name=\"flags\" value=\"4\">\r\n\
         <input type=\"hidden\" name=\"forcedownlevel\" value=\"0\">\r\n\
         <div id=\"mainLogonDiv\" class=\"mouse\">\r\n\
         <div class=\"sidebar\"><div class=\"owaLogoContainer\">\
         <img src=\"/owa/auth/{OWA_BUILD}/themes/resources/owa_text_blue.png\" class=\"owaLogo\" \
         aria-hidden=\"true\" alt=\"\"></div></div>\r\n\
         <div class=\"logonContainer\">\r\n\
         <div id=\"lgnDiv\" class=\"logonDiv\">\r\n\
         <div class=\"signInImageHeader\" role=\"heading\" aria-label=\"Outlook\">Outlook</div>\r\n\
         \t\t<div class=\"signInInputLabel\" id=\"userNameLabel\" \
         aria-hidden=\"true\">{user_label}</div>\r\n\
         \t\t<div><input id=\"username\" name=\"username\" class=\"signInInputText\" \
         role=\"textbox\" \
         aria-labelledby=\"userNameLabel\"/></div>\r\n\
         \t\t<div class=\"signInInputLabel\" id=\"passwordLabel\" \
         aria-hidden=\"true\">{password_label}</div>\r\n\
         \t\t<div><input id=\"password\" onfocus=\"g_fFcs=0\" name=\"password\" value=\"\" \
         type=\"password\" class=\"signInInputText\" aria-labelledby=\"passwordLabel\"/></div>\r\n\
         \t\t<div><input id=\"passwordText\" onfocus=\"g_fFcs=0\" name=\"passwordText\" value=\"\" \
         type=\"text\" style=\"display: none;\" class=\"signInInputText\" \
         aria-labelledby=\"passwordLabel\"/></div>\r\n\
         \t\t<div class=\"showPasswordCheck signInCheckBoxText\">\r\n\
         \t\t\t<input type=\"checkbox\" id=\"showPasswordCheck\" class=\"chk\" \
         onclick=\"showPasswordClick()\" />\r\n\
         \t\t\t<span>{show_password}</span>\r\n\
         \t\t</div>\r\n\
         {error}\
         \t\t<div id=\"expltxt\" class=\"signInExpl\" role=\"alert\">\r\n\t\t</div>\r\n\
         \t\t<div class=\"signInEnter\">\r\n\
         \t\t\t<div onclick=\"clkLgn()\" class=\"signinbutton\" role=\"button\" tabIndex=\"0\">\
         <span class=\"signinTxt\">{sign_in}</span></div>\r\n\
         \t\t\t<input name=\"isUtf8\" value=\"1\" type=\"hidden\"/>\r\n\
         \t\t</div>\r\n\
         \t\t<div class=\"hidden-submit\"><input type=\"submit\" tabindex=\"-1\"/></div>\r\n\
         </div>\r\n</div>\r\n</div>\r\n</form>\r\n</body>\r\n</html>\r\n",
        code = t.code,
        head = head("ASP.auth_logon_aspx", &script),
        action = html_encode(action),
        destination = html_encode(destination),
        user_label = user_label(lang, format),
        password_label = t.password_label,
        show_password = t.show_password,
        sign_in = t.sign_in,
    )
}

/// The expired-password form, with the error of a failed attempt.
pub(crate) fn expired_page(
    lang: Lang,
    format: LogonFormat,
    error: Option<&ChangeResult>,
    action: &str,
) -> String {
    let t = texts(lang);
    let error = match error {
        Some(result) => format!(
            "<div id=\"expltxt\" class=\"signInExpl\" role=\"alert\">{}</div>\r\n",
            error_text(lang, result)
        ),
        None => String::new(),
    };
    let field = |id: &str, label: &str, kind: &str| {
        format!(
            "<div id=\"{id}Label\">{label}</div>\r\n\
             <div><input id=\"{id}\" name=\"{id}\" type=\"{kind}\" class=\"signInInputText\" \
             value=\"\" aria-labelledby=\"{id}Label\"/></div>\r\n"
        )
    };
    format!(
        "<!DOCTYPE html>\r\n<html dir=\"ltr\" lang=\"{code}\">\r\n{head}\
         <body class=\"signInBg\">\r\n\
         <form action=\"{action}\" method=\"POST\" name=\"frmExpPwd\" \
         ENCTYPE=\"application/x-www-form-urlencoded\" autocomplete=\"off\">\r\n\
         <div class=\"logonDiv\">\r\n\
         <div class=\"signInTextHeader\" role=\"heading\">Outlook</div>\r\n\
         <div class=\"shellDialogueMsg headerMsgDiv\">{header}</div>\r\n\
         {error}\
         <div id=\"userNameLabel\">{user_label}</div>\r\n\
         <div><input id=\"username\" name=\"username\" type=\"text\" class=\"signInInputText\" \
         value=\"\" aria-labelledby=\"userNameLabel\"/></div>\r\n\
         {old}{new1}{new2}\
         <input type=\"hidden\" name=\"url\" value=\"/owa/auth.owa\">\r\n\
         <input type=\"hidden\" name=\"isUtf8\" value=\"1\">\r\n\
         <div class=\"signInEnter\">\
         <input type=\"submit\" class=\"btn\" value=\"{submit}\"></div>\r\n\
         </div>\r\n</form>\r\n</body>\r\n</html>\r\n",
        code = t.code,
        head = head("ASP.auth_expiredpassword_aspx", ""),
        action = html_encode(action),
        header = t.expired_header,
        user_label = user_label(lang, format),
        old = field("oldPwd", t.old_password, "password"),
        new1 = field("newPwd1", t.new_password, "password"),
        new2 = field("newPwd2", t.confirm_password, "password"),
        submit = t.submit,
    )
}

/// The expired-password page after a successful change: a message and the OK button.
pub(crate) fn expired_success(lang: Lang) -> String {
    let t = texts(lang);
    let script = "function clkReLgn() { window.location.href = '../'; }\r\n";
    format!(
        "<!DOCTYPE html>\r\n<html dir=\"ltr\" lang=\"{code}\">\r\n{head}\
         <body class=\"signInBg\">\r\n\
         <div class=\"logonDiv\">\r\n\
         <div class=\"signInTextHeader\" role=\"heading\">Outlook</div>\r\n\
         <div class=\"shellDialogueMsg\">{changed}</div>\r\n\
         <div class=\"signInEnter\">\
         <input type=\"button\" value=\"OK\" onclick=\"clkReLgn()\"></div>\r\n\
         </div>\r\n</body>\r\n</html>\r\n",
        code = t.code,
        head = head("ASP.auth_expiredpassword_aspx", script),
        changed = t.changed,
    )
}

/// The OWA 2013+ start page, as Microsoft's monitoring recognises it.
pub(crate) fn start_page() -> String {
    format!(
        "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<title>Outlook</title>\r\n\
         <script src=\"/owa/prem/{OWA_VERSION}/scripts/preboot.js\"></script>\r\n\
         </head>\r\n<body>\r\n<div id=\"owaLoading\"></div>\r\n\
         <script>Program.main();</script>\r\n</body>\r\n</html>\r\n"
    )
}

/// The page `signout.aspx` shows after logoff.
pub(crate) fn signout_page(lang: Lang) -> String {
    let t = texts(lang);
    format!(
        "<!DOCTYPE html>\r\n<html dir=\"ltr\" lang=\"{code}\">\r\n{head}\
         <body class=\"signInBg\">\r\n<div class=\"logonDiv\">\
         <div class=\"signInExpl\">{text}</div></div>\r\n</body>\r\n</html>\r\n",
        code = t.code,
        head = head("ASP.auth_signout_aspx", ""),
        text = t.signed_out,
    )
}
