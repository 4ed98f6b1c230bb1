//! Ethernet II and 802.1Q / 802.1ad VLAN tags.
//!
//! [`Frame::new_checked`] guarantees the 14-byte header is present, after
//! which no accessor can panic. VLAN tags are walked by [`strip_vlans`].

use crate::field::be16;

/// EtherType values vigil dispatches on.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ outer).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag.
    pub const QINQ_OLD: u16 = 0x9100;
}

/// Read-only view of an Ethernet II header.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Header length: two MAC addresses and the EtherType.
    pub const HEADER_LEN: usize = 14;

    /// Wraps `buffer` if it holds at least the 14-byte header.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::HEADER_LEN).then_some(Frame { buffer })
    }
    pub fn dst(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }
    pub fn src(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[6], b[7], b[8], b[9], b[10], b[11]]
    }
    /// EtherType, or an 802.3 length when <= 1500.
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }
}

/// Whether `et` is a VLAN tag protocol identifier vigil walks through.
#[inline]
pub fn is_vlan_tpid(et: u16) -> bool {
    matches!(et, ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD)
}

/// Result of walking VLAN tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vlans {
    /// Inner EtherType, outermost VLAN id (0 if untagged), offset of the
    /// payload after the last tag.
    Ok {
        ethertype: u16,
        vlan: u16,
        offset: usize,
    },
    /// A tag is cut short.
    Trunc,
    /// More than `max_layers` tags.
    TooMany,
}

/// Walks the VLAN tags that start at `offset` (the 4-byte TCI+TPID pairs
/// following an EtherType `et`). Each tag is 2 bytes TCI then 2 bytes
/// EtherType; the outermost VLAN id is the low 12 bits of the first TCI.
#[inline]
pub fn strip_vlans(data: &[u8], mut et: u16, mut offset: usize, max_layers: usize) -> Vlans {
    let mut vlan = 0u16;
    let mut layers = 0usize;
    while is_vlan_tpid(et) {
        if layers == max_layers {
            return Vlans::TooMany;
        }
        if data.len() < offset + 4 {
            return Vlans::Trunc;
        }
        if layers == 0 {
            vlan = be16(data, offset) & 0x0fff;
        }
        et = be16(data, offset + 2);
        offset += 4;
        layers += 1;
    }
    Vlans::Ok {
        ethertype: et,
        vlan,
        offset,
    }
}
