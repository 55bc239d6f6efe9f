//! `#[sql_impl]`: the attribute that gives an `impl` block of the server's store the bounds under
//! which its SQL runs on both databases, so that they are written once (here) instead of on every
//! block (`server/src/store/dialect.rs` says why Rust needs them restated).

use proc_macro::TokenStream;
use quote::quote;
use syn::{GenericParam, ItemImpl, WherePredicate, parse_macro_input, parse_quote};

/// The bounds an `impl<D> … for Db<D>` block needs to run the store's shared SQL on the database
/// `D`. Rust does not imply bounds about other types than `Self` from a trait's where clause
/// (rust-lang/rust#20671), so they cannot live on `Dialect` itself; each holds for both
/// `sqlx::Sqlite` and `sqlx::Postgres`, which the compiler checks where the store is built
/// (`store::connect`).
fn bounds() -> Vec<WherePredicate> {
    vec![
        // The database is one the store knows: what differs between the two is `Dialect`'s.
        parse_quote!(D: crate::store::dialect::Dialect),
        // Queries run on a connection borrowed from a pool or a transaction (`&mut *tx`).
        parse_quote!(for<'c> &'c mut D::Connection: ::sqlx::Executor<'c, Database = D>),
        // Text is bound as `&str`, and columns are read by name.
        parse_quote!(
            for<'a> &'a str: ::sqlx::Encode<'a, D> + ::sqlx::Type<D> + ::sqlx::ColumnIndex<D::Row>
        ),
        // Optional text (a NULL column) is bound as `Option<&str>`.
        parse_quote!(for<'a> Option<&'a str>: ::sqlx::Encode<'a, D>),
        // Bytes (keys, hashes, challenges) are bound as `&[u8]`.
        parse_quote!(for<'a> &'a [u8]: ::sqlx::Encode<'a, D> + ::sqlx::Type<D>),
        // Columns are also read by position (`row.try_get(0)`).
        parse_quote!(usize: ::sqlx::ColumnIndex<D::Row>),
        // Ids, counts and sequence numbers are 64-bit integers, bound and read back.
        parse_quote!(i64: crate::store::dialect::Value<D>),
        // Flags.
        parse_quote!(bool: crate::store::dialect::Value<D>),
        // Text read back.
        parse_quote!(String: crate::store::dialect::Value<D>),
        // Bytes read back.
        parse_quote!(Vec<u8>: crate::store::dialect::Value<D>),
        // Instants, bound and read back (a `TIMESTAMPTZ` on PostgreSQL, text on SQLite).
        parse_quote!(::time::OffsetDateTime: crate::store::dialect::Value<D>),
    ]
}

/// Adds the store's bounds on `D` (see [`bounds`]) to an `impl<D> … for Db<D>` block, and
/// `#[async_trait]` when it implements a trait: `#[sql_impl] impl<D> OfficeStore for Db<D> { … }`
/// or, for private helpers, `#[sql_impl] impl<D> Db<D> { … }`.
#[proc_macro_attribute]
pub fn sql_impl(attribute: TokenStream, item: TokenStream) -> TokenStream {
    if !attribute.is_empty() {
        let span = proc_macro2::TokenStream::from(attribute);
        return syn::Error::new_spanned(span, "#[sql_impl] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    let declares_d = block
        .generics
        .params
        .iter()
        .any(|param| matches!(param, GenericParam::Type(ty) if ty.ident == "D"));
    if !declares_d {
        return syn::Error::new_spanned(
            &block.self_ty,
            "#[sql_impl] expects `impl<D> … for Db<D>` (or `impl<D> Db<D>`)",
        )
        .to_compile_error()
        .into();
    }
    block.generics.make_where_clause().predicates.extend(bounds());
    let expanded = if block.trait_.is_some() {
        quote!(#[::async_trait::async_trait] #block)
    } else {
        quote!(#block)
    };
    expanded.into()
}
