//! Integration tests of tally-notify.
