//! XOR chunks (being written).
