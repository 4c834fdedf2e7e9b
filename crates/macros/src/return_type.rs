//! What the generated code needs to know about a function's return type: whether the call
//! can be classified as ok or error, and how to name the type inside the body.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeInfer, TypeParamBound};

/// A function's return type, as the instrumentation sees it.
#[derive(Debug)]
pub(crate) enum Output {
    /// `-> !`: the body never returns, so there is no value to wait for.
    Never,
    /// Anything else (`()` when there is no `->`).
    Value {
        /// The type as it can be written in an expression: every `impl Trait` replaced by
        /// `_` (an opaque type cannot be named inside the body; its hidden type is
        /// inferred).
        ty: TokenStream,
        /// Whether the type is syntactically a `Result`: its last path segment is
        /// `Result` (`Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`,
        /// `fmt::Result`). Only then is the value inspected for `Ok`/`Err`.
        is_result: bool,
    },
}

impl Output {
    /// Reads a signature's return type.
    pub(crate) fn of(output: &ReturnType) -> Self {
        let ty = match output {
            ReturnType::Default => {
                return Output::Value {
                    ty: quote!(()),
                    is_result: false,
                }
            }
            ReturnType::Type(_, ty) => ty,
        };
        if matches!(ungroup(ty), Type::Never(_)) {
            return Output::Never;
        }
        let mut erased = (**ty).clone();
        erase_impl_trait(&mut erased);
        Output::Value {
            ty: erased.into_token_stream(),
            is_result: is_result(ty),
        }
    }
}

/// The type inside any parentheses or invisible groups.
fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => ungroup(&p.elem),
        Type::Group(g) => ungroup(&g.elem),
        other => other,
    }
}

/// Whether the last segment of the type's path is `Result`.
fn is_result(ty: &Type) -> bool {
    match ungroup(ty) {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        _ => false,
    }
}

/// Replaces every `impl Trait` inside `ty` by `_`.
fn erase_impl_trait(ty: &mut Type) {
    match ty {
        Type::ImplTrait(it) => {
            *ty = Type::Infer(TypeInfer {
                underscore_token: syn::Token![_](it.span()),
            })
        }
        Type::Path(p) => {
            if let Some(qself) = &mut p.qself {
                erase_impl_trait(&mut qself.ty);
            }
            for segment in &mut p.path.segments {
                erase_in_arguments(&mut segment.arguments);
            }
        }
        Type::Reference(r) => erase_impl_trait(&mut r.elem),
        Type::Ptr(p) => erase_impl_trait(&mut p.elem),
        Type::Slice(s) => erase_impl_trait(&mut s.elem),
        Type::Array(a) => erase_impl_trait(&mut a.elem),
        Type::Paren(p) => erase_impl_trait(&mut p.elem),
        Type::Group(g) => erase_impl_trait(&mut g.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(erase_impl_trait),
        Type::TraitObject(t) => {
            for bound in &mut t.bounds {
                if let TypeParamBound::Trait(bound) = bound {
                    for segment in &mut bound.path.segments {
                        erase_in_arguments(&mut segment.arguments);
                    }
                }
            }
        }
        _ => {}
    }
}

fn erase_in_arguments(arguments: &mut PathArguments) {
    match arguments {
        PathArguments::None => {}
        PathArguments::AngleBracketed(args) => {
            for arg in &mut args.args {
                match arg {
                    GenericArgument::Type(ty) => erase_impl_trait(ty),
                    GenericArgument::AssocType(assoc) => erase_impl_trait(&mut assoc.ty),
                    _ => {}
                }
            }
        }
        PathArguments::Parenthesized(args) => {
            args.inputs.iter_mut().for_each(erase_impl_trait);
            if let ReturnType::Type(_, ty) = &mut args.output {
                erase_impl_trait(ty);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn value(output: ReturnType) -> (String, bool) {
        match Output::of(&output) {
            Output::Value { ty, is_result } => (ty.to_string().replace(' ', ""), is_result),
            Output::Never => ("!".into(), false),
        }
    }

    #[test]
    fn results_are_recognised_by_their_last_segment() {
        for output in [
            parse_quote!(-> Result<u8, String>),
            parse_quote!(-> std::io::Result<()>),
            parse_quote!(-> anyhow::Result<Vec<u8>>),
            parse_quote!(-> fmt::Result),
            parse_quote!(-> (Result<(), E>)),
        ] {
            assert!(value(output).1);
        }
        for output in [
            parse_quote!(),
            parse_quote!(-> Option<Result<u8, u8>>),
            parse_quote!(-> ResultSet),
            parse_quote!(-> &Result<u8, u8>),
            parse_quote!(-> impl Future<Output = Result<u8, u8>>),
        ] {
            assert!(!value(output).1);
        }
    }

    #[test]
    fn impl_trait_becomes_an_inferred_type() {
        assert_eq!(value(parse_quote!()).0, "()");
        assert_eq!(value(parse_quote!(-> impl Display)).0, "_");
        assert_eq!(
            value(parse_quote!(-> Result<impl Iterator<Item = u8> + '_, Box<dyn Error>>)),
            ("Result<_,Box<dynError>>".into(), true)
        );
        assert_eq!(
            value(parse_quote!(-> (Vec<impl A>, &[impl B], Box<dyn Fn(impl C) -> impl D>))).0,
            "(Vec<_>,&[_],Box<dynFn(_)->_>)"
        );
        assert_eq!(
            value(parse_quote!(-> Box<dyn Iterator<Item = impl Display>>)).0,
            "Box<dynIterator<Item=_>>"
        );
    }

    #[test]
    fn never_is_its_own_case() {
        assert_eq!(value(parse_quote!(-> !)).0, "!");
        assert_eq!(value(parse_quote!(-> (!))).0, "!");
    }
}
