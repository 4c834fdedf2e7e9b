//! `#[measured]` on an `impl` block: every method with a body is measured, except those
//! marked `#[measured(skip)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl};

use crate::args::{take_method_mark, MethodMark};
use crate::function;

/// The impl block with its methods measured, and the errors found (each method is checked,
/// so every mistake is reported at once). The `measured` attributes are removed from all
/// methods either way, so an error does not cascade into more.
pub(crate) fn expand(mut item: ItemImpl) -> (TokenStream, Option<syn::Error>) {
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        match take_method_mark(&mut method.attrs) {
            Ok(MethodMark::None) => {}
            Ok(MethodMark::Skip) => continue,
            Ok(MethodMark::Measured(attr)) => {
                push(syn::Error::new_spanned(
                    attr,
                    "this method is already measured by the `#[measured]` on its impl block: \
                     remove this attribute (or write `#[measured(skip)]` to leave the method \
                     out)",
                ));
                continue;
            }
            Err(e) => {
                push(e);
                continue;
            }
        }
        if let Err(e) = function::check(&method.sig, ", or mark the method `#[measured(skip)]`") {
            push(e);
            continue;
        }
        let body = function::body(&method.sig, &method.block);
        let (attrs, vis, defaultness, sig) =
            (&method.attrs, &method.vis, &method.defaultness, &method.sig);
        *impl_item = ImplItem::Verbatim(quote!(#(#attrs)* #vis #defaultness #sig #body));
    }
    (quote!(#item), errors)
}
