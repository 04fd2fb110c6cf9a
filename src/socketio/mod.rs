pub(crate) mod packet;
