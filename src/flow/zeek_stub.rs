//! temporary stub
#[derive(Clone, Copy, Debug)]
pub struct Seg { pub flags: u16, pub seq: u32, pub ack: u32, pub payload_len: u32, pub window: u16 }
#[derive(Clone, Debug, Default)]
pub struct ZeekTcp { h: String }
impl ZeekTcp {
    pub fn new() -> ZeekTcp { ZeekTcp::default() }
    pub fn on_packet(&mut self, _from_first: bool, _seg: &Seg) {}
    pub fn orig_is_first(&self) -> bool { true }
    pub fn conn_state(&self) -> &'static str { "OTH" }
    pub fn history(&self) -> &str { &self.h }
}
