//! The body of a measured function: the `static` that holds its metric handles, the guard,
//! and the original body wrapped so that every way out of it is recorded.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::{Block, Signature};

use crate::return_type::Output;

/// Checks that a function can be measured: not `const` (the metrics are updated at run
/// time), not C-variadic (the body cannot be moved into a closure). `hint` is appended to
/// the messages (how to opt a method out, inside an impl block).
pub(crate) fn check(sig: &Signature, hint: &str) -> syn::Result<()> {
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            format!(
                "a `const fn` cannot be measured: its metrics are updated at run time, which \
                 `const` evaluation does not allow; remove `const`{hint}"
            ),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("a C-variadic function cannot be measured{hint}"),
        ));
    }
    Ok(())
}

/// The new body of the function with signature `sig` and body `block`, `{ ... }`.
///
/// For `fn f(..) -> T { body }` it is, with hygienic names:
///
/// ```text
/// {
///     static SITE: LazyFunctionMetrics = LazyFunctionMetrics::new("f", module_path!());
///     let guard = SITE.start();                        // gauge +1, clock starts
///     let result = call::<T, _>(move || body);         // `return` and `?` end up here
///     guard.finish(Probe(&result).tally_is_ok());      // or `true` if T is no Result
///     result                                           // guard dropped: recorded
/// }
/// ```
///
/// An `async fn` awaits `async move { body }` instead (with an unreachable `return` of type
/// `T` first, so the block's output type is known while the body is checked), inside its
/// own future: the guard is created at the first poll and lives until the future completes
/// or is dropped. A panic unwinds past `finish`, as does a dropped future: the guard's `Drop`
/// then records an error. For `-> !` the body runs directly after the guard.
pub(crate) fn body(sig: &Signature, block: &Block) -> TokenStream {
    let name = sig.ident.unraw().to_string();
    let site = syn::Ident::new("__TALLY_MEASURED", Span::mixed_site());
    let guard = syn::Ident::new("__tally_call", Span::mixed_site());
    let result = syn::Ident::new("__tally_result", Span::mixed_site());
    let private = quote!(::tally::__private);
    let head = quote! {
        static #site: #private::LazyFunctionMetrics =
            #private::LazyFunctionMetrics::new(#name, ::core::module_path!());
        let #guard = #site.start();
    };
    let (ty, is_result) = match Output::of(&sig.output) {
        Output::Never => return quote!({ #head #block }),
        Output::Value { ty, is_result } => (ty, is_result),
    };
    let run = if sig.asyncness.is_some() {
        // An async block's output type is inferred from its first `return` or its tail, and
        // later ones must match it exactly: no coercion (`&String` to `&str`, `Box<S>` to
        // `Box<dyn T>`) happens unless the type is known first. An unreachable `return` of
        // the declared type, checked before the body, makes it known.
        let never = syn::Ident::new("__tally_declared_output", Span::mixed_site());
        quote!(async move {
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return
            )]
            if false {
                let #never: #ty = loop {};
                return #never;
            }
            #block
        }
        .await)
    } else {
        quote!(#private::call::<#ty, _>(move || #block))
    };
    let ok = if is_result {
        quote! {{
            #[allow(unused_imports)]
            use #private::ProbeFallback as _;
            #private::Probe(&#result).tally_is_ok()
        }}
    } else {
        quote!(true)
    };
    quote!({
        #head
        let #result = #run;
        #guard.finish(#ok);
        #result
    })
}
