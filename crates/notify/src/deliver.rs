//! Delivering notifications: the integrations ([`webhook`], [`slack`], [`email`]) and the
//! retry policy around them ([`retry`]).

pub mod email;
