//! Conformance scenarios of administrators: found by token hash, scoped to offices, revoked.

use super::{T0, office};
use crate::domain::admin::{AdminRole, NewAdmin};
use crate::domain::audit::Actor;
use crate::domain::identifier::AdminName;
use crate::domain::office::Crpcen;
use crate::domain::token::{Token, TokenKind};
use crate::store::{Error, Store};

pub(super) async fn admins_are_found_by_token_hash_only(store: &dyn Store) {
    let token = Token::generate(TokenKind::Admin);
    let new = NewAdmin {
        name: "bootstrap".into(),
        role: AdminRole::Global,
        offices: Vec::new(),
        token_hash: token.hash(),
    };
    let admin = store.create_admin(&new, &Actor::system(), T0).await.unwrap();
    assert_eq!(store.admin_by_token(&token.hash()).await.unwrap(), admin);
    assert_eq!(store.list_admins().await.unwrap().len(), 1);
    let other = Token::generate(TokenKind::Admin);
    assert!(matches!(store.admin_by_token(&other.hash()).await, Err(Error::NotFound)));
    let same_name = NewAdmin { token_hash: other.hash(), ..new };
    assert!(matches!(
        store.create_admin(&same_name, &Actor::system(), T0).await,
        Err(Error::Conflict)
    ));
}

pub(super) async fn admins_have_roles_offices_and_can_be_revoked(store: &dyn Store) {
    let actor = Actor::system();
    store.create_office(&office("01234", "A"), &actor, T0).await.unwrap();
    let token = Token::generate(TokenKind::Admin);
    let new = NewAdmin {
        name: "marie".into(),
        role: AdminRole::Office,
        offices: vec![Crpcen::parse("01234").unwrap()],
        token_hash: token.hash(),
    };
    let admin = store.create_admin(&new, &actor, T0).await.unwrap();
    assert_eq!(store.admin_by_token(&token.hash()).await.unwrap(), admin);
    let unknown_office = NewAdmin {
        name: "paul".into(),
        offices: vec![Crpcen::parse("99999").unwrap()],
        token_hash: Token::generate(TokenKind::Admin).hash(),
        ..new.clone()
    };
    assert!(matches!(
        store.create_admin(&unknown_office, &actor, T0).await,
        Err(Error::MissingOffices(_))
    ));
    assert!(
        store.list_admins().await.unwrap().iter().all(|a| a.name != "paul"),
        "nothing of it was written"
    );
    store.revoke_admin(&AdminName::parse("name", "marie").unwrap(), &actor, T0).await.unwrap();
    assert!(matches!(store.admin_by_token(&token.hash()).await, Err(Error::NotFound)));
    assert!(matches!(
        store.revoke_admin(&AdminName::parse("name", "marie").unwrap(), &actor, T0).await,
        Err(Error::NotFound)
    ));
    let listed = store.list_admins().await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(T0));
    assert_eq!(listed[0].offices, [Crpcen::parse("01234").unwrap()]);
}
