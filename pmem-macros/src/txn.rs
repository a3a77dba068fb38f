//! `#[txn]` and `txn_block!`: rewrite stores into persistent memory so that each logs exactly
//! the bytes it changes.
//!
//! # What is rewritten
//!
//! Every `&mut` into a pool is born logged: [`PMut`]'s `DerefMut` logs its whole target
//! before handing one out. So no rewrite is needed for soundness; the rewrite buys
//! precision. `bank.accounts[i].balance -= x` on a `bank: PMut<Bank>` would log the whole
//! bank through `DerefMut`; rewritten, it follows the place one projection at a time
//! (`pmem-runtime/src/place.rs`) and logs one `u64`.
//!
//! Three forms name a place, and are rewritten when the place has a field or index
//! projection (or a dereference below one) over a base that may be a `PMut`:
//! - `place = value`, evaluated as Rust does: `value` first;
//! - `place op= value`, for every compound operator; `value` is evaluated first (as Rust
//!   does for primitive operands);
//! - `&mut place`.
//!
//! Index expressions other than literals and plain variables are evaluated into
//! temporaries first, so that they cannot conflict with the borrow of the base.
//!
//! Explicit dereferences (`(*p).a`, `(**rr).a`, `(***rrr).a`) are followed one `*` at a
//! time. The innermost starts from `&mut base` when `base` is a `mut` variable, and
//! otherwise from Rust's own `&mut *base`: exact for a `&mut` (a variable stored through
//! without being `mut` is one), and for any other base the dereference Rust would do, a
//! `PMut`'s `DerefMut` logging its whole target. A `*` applied to a `&mut PMut` narrows
//! without logging, so `(**rr).a` logs `a` only.
//!
//! A base *may be a `PMut`* unless the macro can see its type: a parameter or `let` whose
//! declared type is not `PMut<..>` (or `&mut PMut<..>`), or a `let` initialised by a
//! reference, literal, struct, array, tuple or macro. Those bases are left alone, which
//! keeps Rust's disjoint field borrows on them (`mem::swap(&mut pair.a, &mut pair.b)`).
//! A rewritten store borrows its whole base for the statement, as `DerefMut` on a `PMut`
//! does anyway; give a volatile local a type annotation to keep disjoint borrows of it.
//!
//! # Policy for what the macro cannot or does not rewrite
//!
//! - Method calls (`root.keys.swap(i, j)`, `slot.take()`) and callees: not rewritten; the
//!   autoref'd `&mut` comes from `DerefMut` and logs the whole `PMut` target. Narrow first
//!   to log less: `let keys = &mut root.keys; keys.swap(i, j);` logs `keys` only.
//! - Bare `*p = value`: not rewritten; `DerefMut` logs exactly `*p`, the bytes stored.
//! - Closures and `async` blocks in the body: rewritten like the body.
//! - Nested items (`fn`, `impl`, `mod`): not rewritten; they are separate functions, which
//!   may be marked `#[txn]` themselves.
//! - Macro invocations (`println!`, user macros): their tokens are not rewritten. Stores
//!   inside them go through `DerefMut`: logged, coarsely.
//! - `unsafe` blocks and `unsafe fn` bodies: not rewritten. Raw-pointer stores are the
//!   unsafe code's to log (`pmem::log_range`).
//! - Destructuring assignments (`(a.x, a.y) = (1, 2)`): not rewritten; logged coarsely.
//! - `const fn` and `async fn`: refused. A `const fn` may run at compile time, where there
//!   is no pool; a transaction cannot span an `.await`.
//!
//! # What the function becomes
//!
//! The body runs inside a `Frame` (`pmem-runtime/src/txn/frame.rs`): nested calls join the
//! thread's transaction, and an `Err` from the outermost call, or a panic through any,
//! dooms it. It runs as an immediately called `move` closure, so that `return` and `?`
//! still leave the body with its value.
//!
//! The frame asks `Outcome(&value).failed()`: an inherent method for a `Result`, a fallback
//! trait method returning `false` for everything else. Rust chooses between them when it
//! type-checks the function, before monomorphisation, so an `Err` whose type only becomes a
//! `Result` then would commit. Hence:
//! - `Result<T, E>`, whose parts may be generic, and aliases of `Result`: precise.
//! - Refused at compile time, on the return type: a type parameter of the function (or of
//!   the `impl` block, when `#[txn]` marks the block); `Self` in a lone function, which may
//!   be a trait's default method (in a `#[txn] impl` block, `Self` and the block's
//!   associated types are read through); projections of those (`Self::Out`, `T::Out`,
//!   `<T as Tr>::Out`); `impl Trait` from a generic function, whose hidden type may be a
//!   parameter. `impl Trait` from a non-generic function is accepted: its hidden type is
//!   concrete, and the closure is not annotated with it, so the frame sees that type.
//! - The shapes the macro cannot see (a lone method of a generic `impl` block returning the
//!   block's `T`) reach the fallback, which panics, dooming the transaction, when the value
//!   is a `Result` after all: rolled back, never a silent commit.
//!
//! [`PMut`]: https://docs.rs/pmem/latest/pmem/struct.PMut.html

use std::collections::{BTreeSet, HashMap};

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, Expr, FnArg, ImplItem, Item, Pat, ReturnType, Signature, Stmt, Type, TypeReference,
};

use crate::persistent::field_token_method;

/// Expands `#[txn]` on `item`. On error, the item is emitted unchanged with the error, so
/// that later code and IDEs still see it.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = check_args(&args).and_then(|()| expand_item(item.clone()));
    match result {
        Ok(expanded) => expanded,
        Err(error) => {
            let error = error.to_compile_error();
            if is_expression(&item) {
                // An attribute on an expression must expand to a single expression.
                quote!({ #error #item })
            } else {
                quote!(#item #error)
            }
        }
    }
}

fn is_expression(tokens: &TokenStream) -> bool {
    syn::parse2::<Item>(tokens.clone()).is_err() && syn::parse2::<Expr>(tokens.clone()).is_ok()
}

/// Expands `txn_block! { ... }`.
pub(crate) fn expand_block(input: TokenStream) -> TokenStream {
    let stmts = match Block::parse_within.parse2(input) {
        Ok(stmts) => stmts,
        Err(error) => return error.to_compile_error(),
    };
    let mut block = Block {
        brace_token: Default::default(),
        stmts,
    };
    let mut rewriter = Rewriter::default();
    rewriter.visit_block_mut(&mut block);
    let stmts = &block.stmts;
    framed(
        Span::call_site(),
        &rewriter.prelude(),
        quote!(|| { #(#stmts)* }),
    )
}

/// A block that runs `body` (a closure) inside a `Frame`, after `prelude`, and hands the
/// frame the closure's outcome.
fn framed(span: Span, prelude: &TokenStream, body: TokenStream) -> TokenStream {
    quote_spanned! {span=>
        {
            #prelude
            let __pmem_frame = ::pmem::__private::Frame::enter();
            #[allow(clippy::let_unit_value)]
            let __pmem_result = ::pmem::__private::call_once(#body);
            __pmem_frame.exit(::pmem::__private::Outcome(&__pmem_result).failed());
            __pmem_result
        }
    }
}

fn check_args(args: &TokenStream) -> syn::Result<()> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            args,
            "`#[txn]` takes no arguments\nwrite `#[txn]`",
        ))
    }
}

fn expand_item(tokens: TokenStream) -> syn::Result<TokenStream> {
    let item: Item = match syn::parse2(tokens.clone()) {
        Ok(item) => item,
        Err(error) => return Err(refuse_non_item(tokens).unwrap_or(error)),
    };
    match item {
        Item::Fn(mut function) => {
            check_signature(&function.sig, &Surroundings::default())?;
            function.block = Box::new(instrument_body(&function.sig, &function.block));
            Ok(function.into_token_stream())
        }
        Item::Impl(mut block) => {
            let surroundings = Surroundings::of_impl(&block);
            let mut errors: Option<syn::Error> = None;
            for impl_item in &mut block.items {
                if let ImplItem::Fn(method) = impl_item {
                    method.attrs.retain(|attr| !is_txn_attribute(attr));
                    match check_signature(&method.sig, &surroundings) {
                        Ok(()) => method.block = instrument_body(&method.sig, &method.block),
                        Err(error) => match &mut errors {
                            Some(errors) => errors.combine(error),
                            None => errors = Some(error),
                        },
                    }
                }
            }
            match errors {
                Some(errors) => Err(errors),
                None => Ok(block.into_token_stream()),
            }
        }
        Item::Verbatim(tokens) => Err(refuse_non_item(tokens.clone())
            .unwrap_or_else(|| syn::Error::new_spanned(tokens, NOT_A_FUNCTION))),
        declaration @ Item::Trait(_) => Err(syn::Error::new(
            item_keyword_span(&declaration),
            "`#[txn]` cannot mark a trait: a trait declares methods, their code is in the implementations\n\
             mark the `impl` blocks (or the default methods that have bodies) with `#[txn]`",
        )),
        other => Err(syn::Error::new(item_keyword_span(&other), NOT_A_FUNCTION)),
    }
}

const NOT_A_FUNCTION: &str = "`#[txn]` applies to functions, methods and `impl` blocks\n\
     for a few statements that are not a function of their own, use `pmem::txn_block! { ... }`";

/// A refusal naming what `#[txn]` was put on, for tokens that are not a Rust item: a closure
/// (stable Rust reports attributes on expressions first) or a trait method without a body.
fn refuse_non_item(tokens: TokenStream) -> Option<syn::Error> {
    if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
        if declaration.default.is_none() {
            return Some(syn::Error::new_spanned(
                &declaration.sig,
                "`#[txn]` needs a function body: a trait method declaration has no code to run in a transaction\n\
                 mark the implementations of the method, or their `impl` blocks, with `#[txn]`",
            ));
        }
    }
    match syn::parse2::<Expr>(tokens).ok()? {
        Expr::Closure(closure) => Some(syn::Error::new(
            closure.or1_token.span,
            "`#[txn]` cannot mark a closure\n\
             run the closure's stores in a transaction with `pmem::txn_block! { ... }` inside its body",
        )),
        _ => None,
    }
}

/// The span a refusal of a whole item points at: its keyword and name, not its body.
fn item_keyword_span(item: &Item) -> Span {
    match item {
        Item::Struct(item) => item.struct_token.span.join(item.ident.span()),
        Item::Enum(item) => item.enum_token.span.join(item.ident.span()),
        Item::Trait(item) => item.trait_token.span.join(item.ident.span()),
        Item::Mod(item) => item.mod_token.span.join(item.ident.span()),
        Item::Const(item) => item.const_token.span.join(item.ident.span()),
        Item::Static(item) => item.static_token.span.join(item.ident.span()),
        other => Some(other.span()),
    }
    .unwrap_or_else(|| item.span())
}

fn is_txn_attribute(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.is_ident("txn")
        || (path.segments.len() == 2
            && path.segments[0].ident == "pmem"
            && path.segments[1].ident == "txn")
}

fn check_signature(sig: &Signature, surroundings: &Surroundings) -> syn::Result<()> {
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "`#[txn]` cannot apply to a `const fn`: it may run at compile time, where there is no pool\n\
             remove `const`, or `#[txn]`",
        ));
    }
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span,
            "`#[txn]` cannot apply to an `async fn`: a transaction cannot span an `.await`\n\
             do the persistent work in a synchronous `#[txn]` function and call it from the async code",
        ));
    }
    check_return_type(sig, surroundings)
}

/// What `#[txn]` sees around a function: the `impl` block, when `#[txn]` marks the block.
/// A lone function may be a trait's default method, or a method of an `impl` block that
/// `#[txn]` does not see.
#[derive(Default)]
struct Surroundings {
    /// The block's type parameters.
    parameters: Vec<syn::Ident>,
    /// The block's self type.
    self_type: Option<Type>,
    /// The block's associated types, by name.
    associated: HashMap<String, Type>,
}

impl Surroundings {
    fn of_impl(block: &syn::ItemImpl) -> Self {
        Self {
            parameters: block
                .generics
                .type_params()
                .map(|param| param.ident.clone())
                .collect(),
            self_type: Some((*block.self_ty).clone()),
            associated: block
                .items
                .iter()
                .filter_map(|item| match item {
                    ImplItem::Type(associated) => {
                        Some((associated.ident.to_string(), associated.ty.clone()))
                    }
                    _ => None,
                })
                .collect(),
        }
    }
}

/// A return type that may be a `Result` without Rust seeing it as one where `#[txn]` asks.
enum Hidden {
    Parameter(syn::Ident),
    /// `Self` in an `impl` block for a bare type parameter.
    SelfParameter(syn::Ident),
    SelfType,
    Projection,
    ImplTrait,
}

/// Refuses a return type whose `Err` the frame could not see. The frame asks
/// `Outcome(&value).failed()`, an inherent method for `Result<T, E>` with a fallback trait
/// method for everything else (`pmem-runtime/src/place.rs`). Rust picks between them when it
/// type-checks the function, before monomorphisation: a type parameter, `Self` in a trait,
/// or a projection of either, is not a `Result` then, even when it is instantiated with
/// one, so an `Err` through it would commit. `Result<T, E>` with generic parts, and aliases
/// of `Result`, are seen as `Result`, and are precise.
fn check_return_type(sig: &Signature, surroundings: &Surroundings) -> syn::Result<()> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Ok(());
    };
    let parameters: Vec<&syn::Ident> = sig
        .generics
        .type_params()
        .map(|param| &param.ident)
        .chain(&surroundings.parameters)
        .collect();
    let generic = !parameters.is_empty()
        || sig.inputs.iter().any(|input| match input {
            FnArg::Typed(typed) => mentions_impl_trait(&typed.ty),
            FnArg::Receiver(_) => false,
        });
    let Some(hidden) = hidden_result(ty, &parameters, surroundings, generic) else {
        return Ok(());
    };
    let (what, why) = match &hidden {
        Hidden::Parameter(name) => (format!("`{name}`"), "it is a type parameter".to_owned()),
        Hidden::SelfParameter(name) => (
            "`Self`".to_owned(),
            format!("it is the type parameter `{name}`"),
        ),
        Hidden::SelfType => (
            "`Self`".to_owned(),
            "in a trait's default method it may be any type".to_owned(),
        ),
        Hidden::Projection => (
            "this associated type".to_owned(),
            "it belongs to a generic type".to_owned(),
        ),
        Hidden::ImplTrait => (
            "the type behind this `impl Trait`".to_owned(),
            "in a generic function it may be one of the type parameters".to_owned(),
        ),
    };
    let fix = match hidden {
        Hidden::SelfType => {
            "spell the return type as `Result<_, _>` (its parts may be generic), or name the type; \
             in an `impl` block, mark the block with `#[txn]`, which then sees what `Self` is"
        }
        _ => {
            "spell the return type as `Result<_, _>` (its parts may be generic: `Result<T, E>`), \
             or return a concrete type"
        }
    };
    Err(syn::Error::new_spanned(
        ty,
        format!(
            "`#[txn]` cannot tell whether {what} is a `Result`: {why}, and Rust chooses how \
             `#[txn]` checks for an `Err` before it knows the type, so an `Err` returned \
             through it would commit instead of rolling back\n{fix}"
        ),
    ))
}

/// Why `ty` may be a `Result` that type-checking does not see as one, if it may.
fn hidden_result(
    ty: &Type,
    parameters: &[&syn::Ident],
    surroundings: &Surroundings,
    generic: bool,
) -> Option<Hidden> {
    let path = match ty {
        Type::Paren(paren) => return hidden_result(&paren.elem, parameters, surroundings, generic),
        Type::Group(group) => return hidden_result(&group.elem, parameters, surroundings, generic),
        // A non-generic function's hidden type is concrete; the closure the body becomes
        // is not annotated with `impl Trait` (see `instrument_body`), so the frame sees it.
        Type::ImplTrait(_) => return generic.then_some(Hidden::ImplTrait),
        Type::Path(path) => path,
        _ => return None,
    };
    let is_generic = |ident: &syn::Ident| ident == "Self" || parameters.contains(&ident);
    if let Some(qself) = &path.qself {
        let mentions_generic = qself.ty.to_token_stream().into_iter().any(
            |token| matches!(&token, proc_macro2::TokenTree::Ident(ident) if is_generic(ident)),
        );
        return mentions_generic.then_some(Hidden::Projection);
    }
    let segments = &path.path.segments;
    let first = &segments.first()?.ident;
    if path.path.leading_colon.is_some() || !is_generic(first) {
        return None;
    }
    let recurse = |ty: &Type| hidden_result(ty, parameters, surroundings, generic);
    match (first == "Self", segments.len(), &surroundings.self_type) {
        (true, 1, Some(self_type)) => recurse(self_type).map(|hidden| match hidden {
            Hidden::Parameter(name) => Hidden::SelfParameter(name),
            other => other,
        }),
        (true, 1, None) => Some(Hidden::SelfType),
        (true, 2, Some(_)) => surroundings
            .associated
            .get(&segments[1].ident.to_string())
            .map_or(Some(Hidden::Projection), recurse),
        (false, 1, _) => Some(Hidden::Parameter(first.clone())),
        _ => Some(Hidden::Projection),
    }
}

/// The new body of a `#[txn]` function: its stores rewritten, run inside a frame.
fn instrument_body(sig: &Signature, body: &Block) -> Block {
    let mut rewriter = Rewriter::default();
    rewriter.scopes.push(HashMap::new());
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => rewriter.declare(
                "self",
                BaseKind::Volatile,
                receiver.reference.is_none() && receiver.mutability.is_some(),
            ),
            FnArg::Typed(typed) => {
                let kind = kind_of_type(&typed.ty);
                for (name, mutable) in bindings(&typed.pat) {
                    rewriter.declare(&name, kind, mutable);
                }
            }
        }
    }
    let mut body = body.clone();
    if sig.unsafety.is_none() {
        rewriter.visit_block_mut(&mut body);
    }
    let stmts = &body.stmts;
    // A return type naming `impl Trait` cannot annotate a closure; the closure then infers
    // it from the body.
    let closure_return = match &sig.output {
        ReturnType::Type(arrow, ty) if !mentions_impl_trait(ty) => quote!(#arrow #ty),
        ReturnType::Type(..) => quote!(),
        ReturnType::Default => quote!(-> ()),
    };
    syn::parse2(framed(
        body.brace_token.span.join(),
        &rewriter.prelude(),
        quote!(move || #closure_return { #(#stmts)* }),
    ))
    .expect("the instrumented body is a block")
}

fn mentions_impl_trait(ty: &Type) -> bool {
    ty.to_token_stream()
        .into_iter()
        .any(|token| matches!(&token, proc_macro2::TokenTree::Ident(ident) if ident == "impl"))
}

/// What the macro knows of a place's base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BaseKind {
    /// Its declared type or initialiser shows it is not a `PMut`: left alone.
    Volatile,
    /// It may be a `PMut`: rewritten.
    MaybePersistent,
}

fn kind_of_type(ty: &Type) -> BaseKind {
    match ty {
        Type::Reference(TypeReference {
            mutability: Some(_),
            elem,
            ..
        }) => kind_of_type(elem),
        Type::Paren(paren) => kind_of_type(&paren.elem),
        Type::Group(group) => kind_of_type(&group.elem),
        Type::Infer(_) => BaseKind::MaybePersistent,
        Type::Path(path)
            if path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|segment| segment.ident == "PMut") =>
        {
            BaseKind::MaybePersistent
        }
        _ => BaseKind::Volatile,
    }
}

fn kind_of_initialiser(init: &Expr) -> BaseKind {
    match init {
        Expr::Reference(_)
        | Expr::Lit(_)
        | Expr::Struct(_)
        | Expr::Array(_)
        | Expr::Repeat(_)
        | Expr::Tuple(_)
        | Expr::Macro(_)
        | Expr::Range(_)
        | Expr::Closure(_) => BaseKind::Volatile,
        Expr::Paren(paren) => kind_of_initialiser(&paren.expr),
        _ => BaseKind::MaybePersistent,
    }
}

/// The names a pattern binds, each with whether it is a `mut` binding (`mut x`, not
/// `ref mut x`, which binds an immutable `&mut`).
fn bindings(pat: &Pat) -> Vec<(String, bool)> {
    struct Collect(Vec<(String, bool)>);
    impl syn::visit::Visit<'_> for Collect {
        fn visit_pat_ident(&mut self, pat: &syn::PatIdent) {
            let mutable = pat.by_ref.is_none() && pat.mutability.is_some();
            self.0.push((pat.ident.to_string(), mutable));
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut collect = Collect(Vec::new());
    syn::visit::Visit::visit_pat(&mut collect, pat);
    collect.0
}

/// What the macro knows of a variable.
#[derive(Clone, Copy, Debug)]
struct Binding {
    kind: BaseKind,
    /// Declared `mut`: `&mut variable` is then valid wherever Rust would borrow it mutably.
    mutable: bool,
}

/// The one `VisitMut` that rewrites stores; see the module documentation for its policy.
#[derive(Default)]
struct Rewriter {
    /// What is known of each variable, innermost block last.
    scopes: Vec<HashMap<String, Binding>>,
    /// The field names of rewritten field steps, each needing a fallback token trait.
    fields: BTreeSet<String>,
    /// How many index temporaries have been made, to name the next.
    temporaries: usize,
}

impl Rewriter {
    fn declare(&mut self, name: &str, kind: BaseKind, mutable: bool) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_owned(), Binding { kind, mutable });
        }
    }

    fn variable(&self, name: &str) -> Option<Binding> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(name).copied())
    }

    fn kind_of_variable(&self, name: &str) -> BaseKind {
        self.variable(name)
            .map_or(BaseKind::MaybePersistent, |binding| binding.kind)
    }

    /// Whether `base` is a variable the macro saw declared `mut`.
    fn is_mutable_variable(&self, base: &Expr) -> bool {
        match base {
            Expr::Path(path) if path.qself.is_none() => path
                .path
                .get_ident()
                .and_then(|ident| self.variable(&ident.to_string()))
                .is_some_and(|binding| binding.mutable),
            _ => false,
        }
    }

    fn with_scope(&mut self, visit: impl FnOnce(&mut Self)) {
        self.scopes.push(HashMap::new());
        visit(self);
        self.scopes.pop();
    }

    /// What the rewritten code needs in scope: the fallback traits of the place steps and
    /// one fallback token trait per field name (see `pmem-runtime/src/place.rs`).
    fn prelude(&self) -> TokenStream {
        let field_traits = self.fields.iter().map(|name| {
            let method = format_ident!("{}", name);
            quote! {
                #[allow(non_camel_case_types, non_snake_case)]
                trait #method {
                    #[inline(always)]
                    fn #method(&self) -> ::pmem::__private::NoField {
                        ::pmem::__private::NoField
                    }
                }
                impl<T: ?::core::marker::Sized> #method for T {}
            }
        });
        quote! {
            #[allow(unused_imports)]
            use ::pmem::__private::{
                Base as _, NeverFails as _, PlainDeref as _, PlainField as _, PlainIndex as _,
            };
            #(#field_traits)*
        }
    }

    /// Whether `place` is worth rewriting: a projection over a base that may be a `PMut`.
    fn is_rewritable(&self, place: &Expr) -> bool {
        let mut projections = 0;
        let mut current = place;
        loop {
            match current {
                Expr::Paren(paren) => current = &paren.expr,
                Expr::Field(field) => {
                    projections += 1;
                    current = &field.base;
                }
                Expr::Index(index) => {
                    projections += 1;
                    current = &index.expr;
                }
                Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                    current = &unary.expr;
                }
                base => {
                    return projections > 0 && self.kind_of_base(base) == BaseKind::MaybePersistent;
                }
            }
        }
    }

    fn kind_of_base(&self, base: &Expr) -> BaseKind {
        match base {
            Expr::Path(path) if path.qself.is_none() => match path.path.get_ident() {
                Some(ident) => self.kind_of_variable(&ident.to_string()),
                // A path to a `static`: never a `PMut`.
                None => BaseKind::Volatile,
            },
            _ => BaseKind::MaybePersistent,
        }
    }

    /// The step chain for `place`, hoisting its non-trivial index expressions into
    /// `temporaries`.
    fn steps(&mut self, place: &Expr, temporaries: &mut Vec<(syn::Ident, Expr)>) -> TokenStream {
        let private = quote!(::pmem::__private);
        match place {
            Expr::Paren(paren) => self.steps(&paren.expr, temporaries),
            Expr::Field(field) => {
                let inner = self.steps(&field.base, temporaries);
                let member = &field.member;
                let method = field_token_method(member);
                self.fields.insert(method.to_string());
                let span = member.span();
                let name = place_name(&field.base);
                quote_spanned! {span=>
                    #private::Probe(#inner).__pmem_field(
                        |#name| #name.#method(),
                        |#name| &mut #name.#member,
                    )
                }
            }
            Expr::Index(index) => {
                let inner = self.steps(&index.expr, temporaries);
                let position = if is_trivial_index(&index.index) {
                    index.index.to_token_stream()
                } else {
                    let name = format_ident!(
                        "__pmem_index_{}",
                        self.temporaries,
                        span = Span::mixed_site()
                    );
                    self.temporaries += 1;
                    temporaries.push((name.clone(), (*index.index).clone()));
                    name.into_token_stream()
                };
                let span = index.bracket_token.span.join();
                let name = place_name(&index.expr);
                quote_spanned! {span=>
                    #private::Probe(#inner).__pmem_index(
                        #position,
                        |#name, index| &mut #name[index],
                    )
                }
            }
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                let operand = without_parens(&unary.expr);
                let span = unary.op.span();
                // A step's handle stands for exactly its place, but a base's handle,
                // `base.__pmem_base()`, stands for `base` when it is a `PMut` and for
                // `*base` when it is a `&mut`: right under a field step, whose projection
                // autoderefs, and one dereference too many under a deref step. So the
                // dereference of a base starts from a handle that is exactly `base` (a
                // `mut` variable may be borrowed as Rust's `DerefMut` would), or else is
                // Rust's own `&mut *base`: a variable stored through without being `mut`
                // is a `&mut`, whose reborrow is exact; any other base is dereferenced
                // as Rust does, a `PMut`'s `DerefMut` logging its whole target.
                let inner = if is_projection(operand) {
                    self.steps(operand, temporaries)
                } else if self.is_mutable_variable(operand) {
                    quote_spanned!(operand.span()=> &mut #operand)
                } else {
                    return quote_spanned!(span=> &mut *(#operand));
                };
                let name = place_name(&unary.expr);
                quote_spanned! {span=>
                    #private::Probe(#inner).__pmem_deref(|#name| &mut **#name)
                }
            }
            base => {
                let span = base.span();
                quote_spanned!(span=> (#base).__pmem_base())
            }
        }
    }

    /// `left op value`, with `left` rewritten. `value` is evaluated first: into a temporary
    /// when index temporaries must come between it and the store, or when `hoist_value` asks
    /// (a compound assignment, whose place Rust may otherwise evaluate first).
    fn assignment(
        &mut self,
        left: &Expr,
        op: &TokenStream,
        value: &Expr,
        hoist_value: bool,
    ) -> TokenStream {
        let mut temporaries = Vec::new();
        let steps = self.steps(left, &mut temporaries);
        let span = left.span();
        let place = quote_spanned!(span=> *::pmem::__private::finish(#steps));
        if temporaries.is_empty() && !hoist_value {
            return quote!(#place #op #value);
        }
        let value_name = format_ident!("__pmem_value", span = Span::mixed_site());
        let lets = lets(&temporaries);
        quote!({ let #value_name = #value; #lets #place #op #value_name; })
    }

    fn rewrite_store(&mut self, expr: &mut Expr) {
        let rewritten = match expr {
            Expr::Assign(assign) if self.is_rewritable(&assign.left) => {
                let eq = assign.eq_token.into_token_stream();
                self.assignment(&assign.left, &eq, &assign.right, false)
            }
            Expr::Binary(binary)
                if is_compound_assignment(&binary.op) && self.is_rewritable(&binary.left) =>
            {
                let op = binary.op.into_token_stream();
                self.assignment(&binary.left, &op, &binary.right, true)
            }
            Expr::Reference(reference)
                if reference.mutability.is_some() && self.is_rewritable(&reference.expr) =>
            {
                let mut temporaries = Vec::new();
                let steps = self.steps(&reference.expr, &mut temporaries);
                let span = reference.span();
                let borrow = quote_spanned!(span=> ::pmem::__private::finish(#steps));
                if temporaries.is_empty() {
                    borrow
                } else {
                    let lets = lets(&temporaries);
                    quote!({ #lets #borrow })
                }
            }
            _ => return,
        };
        *expr = syn::parse2(rewritten).expect("a rewritten store is an expression");
    }
}

/// The name of a step closure's parameter: the name the user gave the place being
/// projected, so that a compiler error about it reads like one about the user's code
/// (`cannot borrow `root.hits` as mutable`).
fn place_name(place: &Expr) -> syn::Ident {
    let name = match place {
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.clone()),
        Expr::MethodCall(call) => Some(call.method.clone()),
        Expr::Field(field) => match &field.member {
            syn::Member::Named(ident) => Some(ident.clone()),
            syn::Member::Unnamed(_) => None,
        },
        Expr::Index(index) => return place_name(&index.expr),
        Expr::Paren(paren) => return place_name(&paren.expr),
        Expr::Unary(unary) => return place_name(&unary.expr),
        _ => None,
    };
    // A name starting with a capital could be a constant, which a closure parameter cannot
    // shadow.
    let usable = |ident: &syn::Ident| {
        let text = ident.unraw().to_string();
        text.starts_with(|first: char| first.is_ascii_lowercase())
            && text != "self"
            && text != "index"
    };
    match name {
        Some(ident) if usable(&ident) => format_ident!("{}", ident.unraw()),
        _ => format_ident!("place"),
    }
}

fn without_parens(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => without_parens(&paren.expr),
        other => other,
    }
}

/// Whether `expr` is a place projection that the step chain follows: a field, an index or
/// a dereference.
fn is_projection(expr: &Expr) -> bool {
    match expr {
        Expr::Field(_) | Expr::Index(_) => true,
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Deref(_)),
        _ => false,
    }
}

fn lets(temporaries: &[(syn::Ident, Expr)]) -> TokenStream {
    let lets = temporaries
        .iter()
        .map(|(name, value)| quote!(let #name = #value;));
    quote!(#(#lets)*)
}

fn is_trivial_index(index: &Expr) -> bool {
    match index {
        Expr::Lit(_) => true,
        Expr::Path(path) => {
            path.qself.is_none() && path.path.get_ident().is_some_and(|ident| ident != "self")
        }
        _ => false,
    }
}

fn is_compound_assignment(op: &syn::BinOp) -> bool {
    use syn::BinOp;
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Policy: unsafe code and macro invocations are left as written.
            Expr::Unsafe(_) | Expr::Macro(_) => return,
            Expr::Closure(closure) => {
                let closure = &mut *closure;
                self.with_scope(|this| {
                    for input in &closure.inputs {
                        let kind = match input {
                            Pat::Type(typed) => kind_of_type(&typed.ty),
                            _ => BaseKind::MaybePersistent,
                        };
                        for (name, mutable) in bindings(input) {
                            this.declare(&name, kind, mutable);
                        }
                    }
                    this.visit_expr_mut(&mut closure.body);
                });
                return;
            }
            _ => {}
        }
        visit_mut::visit_expr_mut(self, expr);
        self.rewrite_store(expr);
    }

    fn visit_block_mut(&mut self, block: &mut Block) {
        self.with_scope(|this| visit_mut::visit_block_mut(this, block));
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some(init) = &mut local.init {
            self.visit_expr_mut(&mut init.expr);
            if let Some((_, diverge)) = &mut init.diverge {
                self.visit_expr_mut(diverge);
            }
        }
        let kind = match (&local.pat, &local.init) {
            (Pat::Type(typed), _) => kind_of_type(&typed.ty),
            (Pat::Ident(_), Some(init)) => kind_of_initialiser(&init.expr),
            _ => BaseKind::MaybePersistent,
        };
        for (name, mutable) in bindings(&local.pat) {
            self.declare(&name, kind, mutable);
        }
    }

    fn visit_pat_mut(&mut self, pat: &mut Pat) {
        for (name, mutable) in bindings(pat) {
            self.declare(&name, BaseKind::MaybePersistent, mutable);
        }
    }

    // Policy: nested items are functions of their own.
    fn visit_item_mut(&mut self, _item: &mut Item) {}

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(_) = stmt {
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use crate::snapshots::pretty;

    fn error_of(args: TokenStream, item: TokenStream) -> String {
        let expanded = super::expand(args, item).to_string();
        let start = expanded.find("compile_error").expect("an error");
        expanded[start..].to_owned()
    }

    #[test]
    fn refusals_keep_the_item_and_name_the_problem() {
        let item = quote!(
            const fn f() {}
        );
        let expanded = super::expand(TokenStream::new(), item.clone()).to_string();
        assert!(expanded.starts_with(&item.to_string()), "{expanded}");
        assert!(error_of(TokenStream::new(), item).contains("const fn"));
        assert!(
            error_of(
                TokenStream::new(),
                quote!(
                    async fn f() {}
                )
            )
            .contains("async fn")
        );
        assert!(
            error_of(
                quote!(precise),
                quote!(
                    fn f() {}
                )
            )
            .contains("takes no arguments")
        );
        assert!(
            error_of(
                TokenStream::new(),
                quote!(
                    struct S;
                )
            )
            .contains("functions, methods")
        );
        let in_impl = error_of(
            TokenStream::new(),
            quote!(impl S { async fn a() {} const fn b() {} }),
        );
        assert!(
            in_impl.contains("async fn") && in_impl.contains("const fn"),
            "{in_impl}"
        );
        let generic = quote!(
            fn f<T>(g: impl FnOnce() -> T) -> T {
                g()
            }
        );
        assert!(error_of(TokenStream::new(), generic).contains("`T` is a `Result`"));
    }

    #[test]
    fn a_txn_block_is_rewritten_like_a_body() {
        let block = super::expand_block(quote!(let mut root = tx.root_mut(); root.count += 1;));
        let expanded = pretty(&quote!(fn f() { #block }));
        assert!(expanded.contains("__pmem_field_count"), "{expanded}");
        assert!(expanded.contains("Frame::enter"), "{expanded}");
    }
}
