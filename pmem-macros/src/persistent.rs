//! `#[derive(Persistent)]`.
//!
//! Checks, each refusal spanned on the offending tokens:
//! - the item is a struct (a union's live field, or an enum's discriminant, could be any bit
//!   pattern after a restart or damage, which the trait's contract forbids);
//! - it is `#[repr(C)]` or `#[repr(transparent)]`, not `packed`: a layout fixed by the
//!   definition, with aligned fields;
//! - it has no lifetime parameters (a persistent value cannot borrow), and no const parameter
//!   named like a variable of the generated code (`hash`, `map`, `offset`);
//! - every field is `Persistent`: enforced by the generated impl, whose layout hash names
//!   `<Field as Persistent>::LAYOUT_HASH` with the field type's span, so a `Vec<u8>` field
//!   reports "`Vec<u8>` cannot be stored in persistent memory" on the field;
//! - no padding: constant assertions that each field starts where the previous one ends and
//!   the last one ends the struct, each spanned on its field;
//! - no `Drop` impl (`needs_drop` is false): persistent objects are reclaimed by the
//!   collector, never dropped;
//! - a `#[persistent(name = "path::Type")]` attribute, if any, has exactly one `name`, a string
//!   that is a `::`-separated path of identifiers (a typo would silently be another identity).
//!
//! The constant checks run where the layout hash is evaluated: at the definition for a
//! non-generic struct; for a generic one, wherever the runtime reads or writes it (a pool
//! root, `Pool::get`), which evaluates `LAYOUT_HASH` for that reason.
//!
//! It also gives the struct one hidden method per field, `__pmem_field_<name>`, returning
//! the field's offset as a token: `#[txn]` uses it to narrow a `PMut` to the field, so that
//! a field store logs the field's bytes, not the struct's.
//!
//! The name hash starts from `concat!(module_path!(), "::", Name)`, expanded at the
//! derive site so that it names the defining module: two types of the same name in two
//! modules are two types (see `pmem_alloc::type_hash`). `#[persistent(name = "...")]`
//! replaces that text, so that a type moved to another module can keep its identity.
//!
//! Generic parameters get no implicit bound: a parameter used in a field must be declared
//! `T: Persistent` by the user, or the field check refuses it. Every generic argument joins
//! the name hash, in declaration order: a type argument's `NAME_HASH`, a const argument's
//! value (`hash_u128`), so that `Blob<16>` and `Blob<32>` are two identities in a pool.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, GenericParam, Member};

/// Expands `#[derive(Persistent)]` on `input`, or the errors found in it.
pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    match check(&input) {
        Ok(checked) => expand(&input, &checked),
        Err(error) => error.to_compile_error(),
    }
}

/// The variables of the generated impl. A const parameter of one of these names is in scope
/// where they are bound, and a `let` or a function parameter cannot shadow it. Hygiene does
/// not help: `Span::mixed_site` keeps a macro's variables apart from the user's variables,
/// not from the user's generic parameters.
const GENERATED_VARIABLES: [&str; 3] = ["hash", "map", "offset"];

/// A struct that passed the checks.
struct Checked<'a> {
    fields: Vec<Field<'a>>,
    /// The `name` of `#[persistent(name = "...")]`, if given.
    stable_name: Option<syn::LitStr>,
}

struct Field<'a> {
    member: Member,
    name: String,
    ty: &'a syn::Type,
    vis: &'a syn::Visibility,
}

fn check(input: &DeriveInput) -> syn::Result<Checked<'_>> {
    let mut errors = Errors::default();
    let fields = match &input.data {
        Data::Struct(data) => Some(&data.fields),
        Data::Enum(data) => {
            errors.push(syn::Error::new(
                data.enum_token.span,
                "an enum cannot be `Persistent`: after a restart or damage its discriminant may hold any bit pattern, which would be an invalid value\n\
                 store the variant as an integer field of a `#[repr(C)]` struct instead",
            ));
            None
        }
        Data::Union(data) => {
            errors.push(syn::Error::new(
                data.union_token.span,
                "a union cannot be `Persistent`: the collector and the undo log cannot tell which field holds a persistent pointer\n\
                 use a `#[repr(C)]` struct instead",
            ));
            None
        }
    };
    check_repr(input, &mut errors);
    let stable_name = stable_name(input, &mut errors);
    for lifetime in input.generics.lifetimes() {
        errors.push(syn::Error::new_spanned(
            lifetime,
            "a `Persistent` type cannot borrow: a reference is a volatile pointer, meaningless after a restart\n\
             point into the pool with `pmem::PPtr<T>` instead",
        ));
    }
    for constant in input.generics.const_params() {
        let name = syn::ext::IdentExt::unraw(&constant.ident).to_string();
        if GENERATED_VARIABLES.contains(&name.as_str()) {
            errors.push(syn::Error::new_spanned(
                &constant.ident,
                format!(
                    "a const parameter named `{name}` collides with a variable of the code `#[derive(Persistent)]` generates\n\
                     rename it: const parameters are spelt in upper case, such as `N` or `LEN`"
                ),
            ));
        }
    }
    errors.finish()?;
    let fields = fields.expect("only structs pass the checks");
    let fields = fields
        .iter()
        .enumerate()
        .map(|(index, field)| match &field.ident {
            Some(ident) => Field {
                member: Member::Named(ident.clone()),
                name: ident.to_string(),
                ty: &field.ty,
                vis: &field.vis,
            },
            None => Field {
                member: Member::from(index),
                name: index.to_string(),
                ty: &field.ty,
                vis: &field.vis,
            },
        })
        .collect();
    Ok(Checked {
        fields,
        stable_name,
    })
}

/// The name given by `#[persistent(name = "...")]`, refusing anything else in the attribute.
fn stable_name(input: &DeriveInput, errors: &mut Errors) -> Option<syn::LitStr> {
    let mut name: Option<syn::LitStr> = None;
    for attribute in input
        .attrs
        .iter()
        .filter(|attribute| attribute.path().is_ident("persistent"))
    {
        if !matches!(attribute.meta, syn::Meta::List(_)) {
            errors.push(syn::Error::new_spanned(
                attribute,
                "`#[persistent]` only sets the text a type's identity is hashed from: write `#[persistent(name = \"path::Type\")]`",
            ));
            continue;
        }
        let parsed = attribute.parse_nested_meta(|meta| {
            if !meta.path.is_ident("name") {
                return Err(meta.error(
                    "unknown `persistent` option: the only one is `name = \"path::Type\"`",
                ));
            }
            let value = match meta.value()?.parse::<syn::Expr>()? {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(value),
                    ..
                }) => value,
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`name` takes a string, such as `name = \"bank::Account\"`: the identity is hashed from its text",
                    ));
                }
            };
            if name.is_some() {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    "`name` is given twice: a type has one identity",
                ));
            }
            if !is_type_path(&value.value()) {
                return Err(syn::Error::new(
                    value.span(),
                    "`name` must be a type path of identifiers separated by `::`, such as \"bank::Account\"\n\
                     to keep the identity of a type moved from module `bank`, give the path it had there",
                ));
            }
            name = Some(value);
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    name
}

/// Whether `text` is `segment::segment::...` with every segment an identifier, as
/// `module_path!()` and a type name spell it.
fn is_type_path(text: &str) -> bool {
    text.split("::").all(|segment| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|first| first == '_' || first.is_alphabetic())
            && chars.all(|rest| rest == '_' || rest.is_alphanumeric())
            && segment != "_"
    })
}

fn check_repr(input: &DeriveInput, errors: &mut Errors) {
    let mut fixed_layout = false;
    let mut repr_attribute = None;
    for attribute in input
        .attrs
        .iter()
        .filter(|attribute| attribute.path().is_ident("repr"))
    {
        repr_attribute = Some(attribute);
        let parsed = attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") || meta.path.is_ident("transparent") {
                fixed_layout = true;
            } else if meta.path.is_ident("packed") {
                errors.push(meta.error(
                    "a `Persistent` type cannot be `packed`: references to its fields could be misaligned\n\
                     remove `packed`, and fill any gaps between fields with explicit `[u8; N]` fields",
                ));
            }
            if meta.input.peek(syn::token::Paren) {
                let _arguments: TokenStream = meta.input.parse::<proc_macro2::Group>()?.stream();
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    if fixed_layout || matches!(input.data, Data::Enum(_) | Data::Union(_)) {
        return;
    }
    errors.push(match repr_attribute {
        Some(attribute) => syn::Error::new_spanned(
            attribute,
            "this `repr` keeps the default Rust layout, which may change between compiler versions (and the pool would then no longer open)\n\
             add `C` to it, e.g. `#[repr(C, align(64))]`",
        ),
        None => syn::Error::new_spanned(
            &input.ident,
            "a `Persistent` type needs a layout fixed by its definition: add `#[repr(C)]`\n\
             (the default Rust layout may change between compiler versions, and the pool would then no longer open)",
        ),
    });
}

fn expand(input: &DeriveInput, checked: &Checked<'_>) -> TokenStream {
    let fields = &checked.fields;
    let name = &input.ident;
    let name_text = name.to_string();
    let identity = match &checked.stable_name {
        Some(stable_name) => quote!(#stable_name),
        None => {
            let unraw = syn::ext::IdentExt::unraw(name).to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #unraw))
        }
    };
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let private = quote!(::pmem::__private);

    // In declaration order, so that `Pair<T, const N: usize>` hashes `T` before `N`; a type
    // without const parameters hashes exactly what it did before they were supported.
    let argument_hashes = input.generics.params.iter().filter_map(|param| match param {
        GenericParam::Type(param) => {
            let ident = &param.ident;
            Some(quote! {
                let hash = #private::hash_u64(hash, <#ident as #private::Persistent>::NAME_HASH);
            })
        }
        // Every const parameter type stable Rust allows (integers, `bool`, `char`) casts to
        // `u128` without losing a value (a signed integer sign-extends, `bool` is 0 or 1, a
        // `char` its scalar value), so two arguments of one parameter hash alike only if they
        // are equal. The cast is spanned on the parameter's type, where an error about it
        // belongs.
        GenericParam::Const(param) => {
            let (ident, ty) = (&param.ident, &param.ty);
            let value = quote_spanned!(ty.span()=> #ident as u128);
            Some(quote! {
                let hash = #private::hash_u128(hash, #value);
            })
        }
        GenericParam::Lifetime(_) => None,
    });
    let field_hashes = fields.iter().map(|field| {
        let (ty, member, field_name) = (field.ty, &field.member, &field.name);
        let layout_hash = quote_spanned!(ty.span()=> <#ty as #private::Persistent>::LAYOUT_HASH);
        quote! {
            hash = #private::hash_str(hash, #field_name);
            hash = #private::hash_u64(hash, ::core::mem::offset_of!(Self, #member) as u64);
            hash = #private::hash_u64(hash, #layout_hash);
        }
    });
    // `N as u128` of a `const N: u128` is the same type, which clippy would report in the
    // user's crate, on the parameter.
    let allow_same_type_cast = input
        .generics
        .const_params()
        .next()
        .is_some()
        .then(|| quote!(#[allow(clippy::unnecessary_cast)]));
    let padding_checks = padding_checks(&name_text, fields);
    let drop_message = format!(
        "`{name_text}` implements `Drop`, which a `Persistent` type may not: objects in a pool are reclaimed by the collector and never dropped\n\
         remove the `Drop` implementation of `{name_text}`"
    );
    let pointer_descriptions = fields.iter().map(|field| {
        let (ty, member) = (field.ty, &field.member);
        quote_spanned! {ty.span()=>
            <#ty as #private::Persistent>::describe_pointers(
                map,
                offset + ::core::mem::offset_of!(Self, #member),
            );
        }
    });
    let field_tokens = fields.iter().map(|field| {
        let (ty, member, vis) = (field.ty, &field.member, field.vis);
        let method = field_token_method(member);
        quote! {
            #[doc(hidden)]
            #[inline(always)]
            #[allow(dead_code, non_snake_case)]
            #vis fn #method(&self) -> #private::Field<Self, #ty> {
                #private::Field::new(::core::mem::offset_of!(Self, #member))
            }
        }
    });
    let lock_checks = fields.iter().map(|field| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> <#ty as #private::Persistent>::CONTAINS_LOCK)
    });
    let pointer_free_checks = fields.iter().map(|field| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> <#ty as #private::Persistent>::POINTER_FREE)
    });
    let check_now = input.generics.params.is_empty().then(|| {
        quote! { const _: u64 = <#name as #private::Persistent>::LAYOUT_HASH; }
    });

    quote! {
        // SAFETY: `#[derive(Persistent)]` checked that this is a `#[repr(C)]` or
        // `#[repr(transparent)]` struct without lifetimes; `LAYOUT_HASH` names every field
        // as `Persistent` (so each is plain data without volatile pointers or interior
        // mutability) and fails to compile if the struct has padding or implements `Drop`.
        #[diagnostic::do_not_recommend]
        unsafe impl #impl_generics #private::Persistent for #name #type_generics #where_clause {
            #allow_same_type_cast
            const NAME_HASH: u64 = {
                let hash = #private::hash_str(#private::SEED, #identity);
                #( #argument_hashes )*
                hash
            };
            const LAYOUT_HASH: u64 = {
                #padding_checks
                if ::core::mem::needs_drop::<Self>() {
                    ::core::panic!(#drop_message);
                }
                let mut hash = #private::hash_u64(Self::NAME_HASH, ::core::mem::align_of::<Self>() as u64);
                #( #field_hashes )*
                #private::hash_u64(hash, ::core::mem::size_of::<Self>() as u64)
            };
            const CONTAINS_LOCK: bool = false #( || #lock_checks )*;
            const POINTER_FREE: bool = true #( && #pointer_free_checks )*;

            #[allow(unused_variables)]
            fn describe_pointers(map: &mut #private::PointerMap, offset: usize) {
                #( #pointer_descriptions )*
            }
        }

        // Where each field lies, for the stores `#[txn]` rewrites: with the field's own
        // visibility, so a token is reachable exactly where the field is.
        impl #impl_generics #name #type_generics #where_clause {
            #( #field_tokens )*
        }

        #check_now
    }
}

/// The hidden method `#[derive(Persistent)]` gives a struct for each field, and `#[txn]`
/// calls: `__pmem_field_balance`, `__pmem_field_0`.
pub(crate) fn field_token_method(member: &syn::Member) -> syn::Ident {
    use syn::ext::IdentExt;
    match member {
        syn::Member::Named(ident) => {
            quote::format_ident!("__pmem_field_{}", ident.unraw(), span = ident.span())
        }
        syn::Member::Unnamed(index) => {
            quote::format_ident!("__pmem_field_{}", index.index, span = index.span)
        }
    }
}

/// Constant checks that each field starts where the previous one ends and the last one ends
/// the struct, each spanned on its field so that the error says where the gap is.
fn padding_checks(name: &str, fields: &[Field<'_>]) -> TokenStream {
    let mut checks = TokenStream::new();
    let mut previous: Option<&Field<'_>> = None;
    for field in fields {
        let member = &field.member;
        let (expected_offset, message) = match previous {
            None => (
                quote!(0),
                format!(
                    "`{name}` has padding before its first field `{}`",
                    field.name
                ),
            ),
            Some(before) => {
                let (before_member, before_ty) = (&before.member, before.ty);
                (
                    quote!(::core::mem::offset_of!(Self, #before_member) + ::core::mem::size_of::<#before_ty>()),
                    format!(
                        "`{name}` has padding between fields `{}` and `{}`, which a `Persistent` type may not have\n\
                         fill the gap with an explicit `[u8; N]` field, or order the fields from the largest alignment to the smallest",
                        before.name, field.name
                    ),
                )
            }
        };
        checks.extend(quote_spanned! {field.ty.span()=>
            if ::core::mem::offset_of!(Self, #member) != #expected_offset {
                ::core::panic!(#message);
            }
        });
        previous = Some(field);
    }
    let end = match previous {
        Some(last) => {
            let (member, ty) = (&last.member, last.ty);
            quote!(::core::mem::offset_of!(Self, #member) + ::core::mem::size_of::<#ty>())
        }
        None => quote!(0),
    };
    let message = format!(
        "`{name}` has padding after its last field, which a `Persistent` type may not have\n\
         add an explicit `[u8; N]` field at the end to fill it"
    );
    let span = previous.map_or_else(proc_macro2::Span::call_site, |last| last.ty.span());
    checks.extend(quote_spanned! {span=>
        if ::core::mem::size_of::<Self>() != #end {
            ::core::panic!(#message);
        }
    });
    checks
}

/// Collects several errors so that one expansion reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(item: TokenStream) -> Vec<String> {
        let input: DeriveInput = syn::parse2(item).expect("valid item");
        match check(&input) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_a_repr_c_struct() {
        assert!(
            errors_of(quote!(
                #[repr(C)]
                struct Account {
                    balance: u64,
                }
            ))
            .is_empty()
        );
        assert!(
            errors_of(quote!(
                #[repr(C, align(64))]
                struct Line([u64; 8]);
            ))
            .is_empty()
        );
        assert!(
            errors_of(quote!(
                #[repr(transparent)]
                struct Id(u64);
            ))
            .is_empty()
        );
    }

    #[test]
    fn refuses_the_default_layout() {
        let errors = errors_of(quote!(
            struct Account {
                balance: u64,
            }
        ));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("#[repr(C)]"), "{errors:?}");
    }

    #[test]
    fn refuses_packed_enums_unions_and_lifetimes_together() {
        assert!(
            errors_of(quote!(
                #[repr(C, packed)]
                struct P {
                    a: u64,
                }
            ))[0]
                .contains("packed")
        );
        assert!(
            errors_of(quote!(
                #[repr(u8)]
                enum E {
                    A,
                    B,
                }
            ))[0]
                .contains("enum")
        );
        assert!(errors_of(quote!(#[repr(C)] union U { a: u64 }))[0].contains("union"));
        let errors = errors_of(quote!(
            struct R<'a> {
                r: &'a u64,
            }
        ));
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn accepts_const_parameters_but_not_a_lifetime_beside_them() {
        assert!(
            errors_of(quote!(
                #[repr(C)]
                struct Frame<T: Persistent, const N: usize, const SEALED: bool = false> {
                    header: T,
                    bytes: [u8; N],
                }
            ))
            .is_empty()
        );
        let errors = errors_of(quote!(
            #[repr(C)]
            struct View<'a, const N: usize> {
                bytes: &'a [u8; N],
            }
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("cannot borrow"), "{errors:?}");
        for name in GENERATED_VARIABLES {
            let name = syn::Ident::new(name, proc_macro2::Span::call_site());
            let errors = errors_of(quote!(
                #[repr(C)]
                struct Blob<const #name: usize> {
                    bytes: [u8; #name],
                }
            ));
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            assert!(errors[0].contains("collides"), "{name}: {errors:?}");
        }
    }

    #[test]
    fn takes_one_stable_name_that_is_a_type_path() {
        let input: DeriveInput = syn::parse2(quote!(
            #[derive(Persistent)]
            #[persistent(name = "bank::Account")]
            #[repr(C)]
            struct Account {
                balance: u64,
            }
        ))
        .expect("valid item");
        let checked = check(&input).unwrap_or_else(|error| panic!("{error}"));
        let name = checked.stable_name.expect("a stable name");
        assert_eq!(name.value(), "bank::Account");
        for accepted in [
            "Account",
            "_private::r2d2::Ünïcode",
            "bank::ledger::Account",
        ] {
            assert!(is_type_path(accepted), "{accepted:?}");
        }
        for refused in [
            "",
            "bank:Account",
            "::bank::Account",
            "bank::",
            "Vec<u8>",
            "_",
            "a b",
        ] {
            assert!(!is_type_path(refused), "{refused:?}");
        }
    }

    #[test]
    fn refuses_every_other_persistent_attribute() {
        for (attribute, expected) in [
            (quote!(#[persistent]), "write `#[persistent(name"),
            (
                quote!(#[persistent = "bank::Account"]),
                "write `#[persistent(name",
            ),
            (
                quote!(#[persistent(rename = "x")]),
                "unknown `persistent` option",
            ),
            (quote!(#[persistent(name)]), "expected `=`"),
            (
                quote!(#[persistent(name = bank::Account)]),
                "takes a string",
            ),
            (
                quote!(#[persistent(name = "bank:Account")]),
                "must be a type path",
            ),
            (quote!(#[persistent(name = "a", name = "b")]), "given twice"),
        ] {
            let errors = errors_of(quote!(
                #attribute
                #[repr(C)]
                struct Account {
                    balance: u64,
                }
            ));
            assert_eq!(errors.len(), 1, "{attribute}: {errors:?}");
            assert!(errors[0].contains(expected), "{attribute}: {errors:?}");
        }
        let errors = errors_of(quote!(
            #[persistent(name = "a")]
            #[persistent(name = "b")]
            #[repr(C)]
            struct Account {
                balance: u64,
            }
        ));
        assert!(
            errors.len() == 1 && errors[0].contains("given twice"),
            "{errors:?}"
        );
    }
}
