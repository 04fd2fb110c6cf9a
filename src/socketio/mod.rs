pub(crate) mod args;
pub(crate) mod binary;
pub(crate) mod packet;
pub(crate) mod raw;
