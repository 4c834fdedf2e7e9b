//! The attribute's arguments, and the `#[measured]` / `#[measured(skip)]` attributes found on
//! the methods of a measured `impl` block.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, Meta, Token};

/// What `#[measured(...)]` was given. The only argument is `skip`, meaningful on a method
/// inside a measured `impl` block.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// Where `skip` was written, if it was.
    pub(crate) skip: Option<Span>,
}

impl Args {
    /// Parses the tokens between the parentheses of `#[measured(...)]`.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("skip") {
                if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                    return Err(meta.error("`skip` takes no value: write `#[measured(skip)]`"));
                }
                if args.skip.is_some() {
                    return Err(meta.error("`skip` is given twice"));
                }
                args.skip = Some(meta.path.span());
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown argument `{name}`: `#[measured]` takes no arguments, \
                     except `skip` on a method inside a `#[measured]` impl block"
                )))
            }
        });
        parser.parse2(tokens)?;
        Ok(args)
    }

    /// Parses the arguments of an attribute already known to be `measured`.
    fn of_attribute(attr: &Attribute) -> syn::Result<Self> {
        match &attr.meta {
            Meta::Path(_) => Ok(Args::default()),
            Meta::List(list) => Args::parse(list.tokens.clone()),
            Meta::NameValue(nv) => Err(syn::Error::new_spanned(
                nv,
                "`#[measured = ...]` is not a form of the attribute: write `#[measured]` or \
                 `#[measured(skip)]`",
            )),
        }
    }
}

/// How a method inside a measured `impl` block is marked.
pub(crate) enum MethodMark {
    /// No `measured` attribute: measure it.
    None,
    /// `#[measured(skip)]`: leave it as it is.
    Skip,
    /// `#[measured]` again (this attribute): an error, the impl block already measures it.
    Measured(Box<Attribute>),
}

/// Whether `attr` is `#[measured]` under any path (`measured`, `tally::measured`, ...).
fn is_measured(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "measured")
}

/// Removes every `measured` attribute from a method's attributes and says how the method was
/// marked.
pub(crate) fn take_method_mark(attrs: &mut Vec<Attribute>) -> syn::Result<MethodMark> {
    let mut mark = MethodMark::None;
    let mut result = Ok(());
    attrs.retain(|attr| {
        if !is_measured(attr) {
            return true;
        }
        match Args::of_attribute(attr) {
            Ok(Args { skip: Some(_) }) => {
                if matches!(mark, MethodMark::None) {
                    mark = MethodMark::Skip;
                }
            }
            Ok(Args { skip: None }) => mark = MethodMark::Measured(Box::new(attr.clone())),
            Err(e) => result = Err(e),
        }
        false
    });
    result.map(|()| mark)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn err(tokens: TokenStream) -> String {
        match Args::parse(tokens) {
            Ok(args) => panic!("accepted: {args:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_nothing_and_skip() {
        assert!(Args::parse(quote!()).unwrap().skip.is_none());
        assert!(Args::parse(quote!(skip)).unwrap().skip.is_some());
        assert!(Args::parse(quote!(skip,)).unwrap().skip.is_some());
    }

    #[test]
    fn refuses_anything_else() {
        assert!(err(quote!(foo)).starts_with("unknown argument `foo`"));
        assert!(err(quote!(a::b)).starts_with("unknown argument `a::b`"));
        assert!(err(quote!(skip = true)).contains("takes no value"));
        assert!(err(quote!(skip(x))).contains("takes no value"));
        assert!(err(quote!(skip, skip)).contains("twice"));
    }

    #[test]
    fn method_marks_are_taken_out() {
        let mut attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[inline]),
            syn::parse_quote!(#[tally::measured(skip)]),
        ];
        assert!(matches!(
            take_method_mark(&mut attrs).unwrap(),
            MethodMark::Skip
        ));
        assert_eq!(attrs.len(), 1);
        let mut attrs: Vec<Attribute> = vec![syn::parse_quote!(#[measured])];
        assert!(matches!(
            take_method_mark(&mut attrs).unwrap(),
            MethodMark::Measured(_)
        ));
        let mut attrs: Vec<Attribute> = vec![syn::parse_quote!(#[measured(nope)])];
        assert!(take_method_mark(&mut attrs).is_err());
        assert!(attrs.is_empty());
    }
}
