//! One frame of any supported link type through the decoder and the flow table.
//! The first byte picks the link type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tamperscope::capture::{Frame, LinkType, Timestamp};
use tamperscope::decode::{Defragmenter, decode, decode_reassembled};
use tamperscope::flow::FlowTable;

const LINK_TYPES: [u16; 23] = [
    0, 1, 9, 12, 14, 50, 51, 101, 104, 105, 108, 113, 127, 149, 166, 192, 204, 205, 228, 229, 239,
    258, 276,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let frame = Frame {
        index: 1,
        ts: Timestamp(0),
        link_type: LinkType(LINK_TYPES[usize::from(sel) % LINK_TYPES.len()]),
        data: rest,
        orig_len: rest.len() as u32,
    };
    let mut table = FlowTable::new(&tamperscope::Config::default());
    let mut defrag = Defragmenter::default();
    if let Ok(p) = decode(&frame) {
        let _ = p.ports();
        if let tamperscope::decode::Transport::Tcp(t) = p.transport {
            let _ = t.options();
        }
        if let Some(r) = defrag.push(&p) {
            table.process_transient(&decode_reassembled(&r));
        }
        table.process(&p);
        table.finish_all();
    }
});
