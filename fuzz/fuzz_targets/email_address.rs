//! What people type into account and subscription forms: `EmailAddress`, `Username` and
//! `Password`. Invariants: an accepted value parses back to itself, an accepted email has one
//! `@` and no markup characters, an accepted user name is plain ASCII, and `Debug` of an email
//! shows only its domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperfeed_core::{EmailAddress, Password, Username};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(email) = EmailAddress::parse(input) {
        let s = email.as_str();
        assert_eq!(EmailAddress::parse(s).ok().as_ref(), Some(&email));
        assert_eq!(s.matches('@').count(), 1);
        assert!(!s.contains(['<', '>', '"', '\'', ' ', '\n']));
        assert!(s.len() <= 254);
        let domain = s.rsplit('@').next().unwrap_or_default();
        assert_eq!(format!("{email:?}"), format!("EmailAddress(…@{domain})"));
    } else if let Err(e) = EmailAddress::parse(input) {
        assert_eq!(e.field, "email");
    }
    if let Ok(name) = Username::parse(input) {
        let s = name.as_str();
        assert!(s.is_ascii() && (2..=Username::MAX_LEN).contains(&s.len()));
        assert_eq!(Username::parse(s).ok().as_ref(), Some(&name));
    }
    if let Ok(p) = Password::parse(input) {
        assert_eq!(p.expose(), input);
        let mask = format!(
            "{:?}",
            Password::parse("0123456789").expect("a valid password")
        );
        assert_eq!(format!("{p:?}"), mask, "Debug shows no password");
    }
});
