pub(crate) mod args;
pub(crate) mod packet;
