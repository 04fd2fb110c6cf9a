//! The transports of Engine.IO, and the order a connection tries them in.

/// The transports to try, in order, each once: two bytes, since every idle
/// connection keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transports([Option<Transport>; 2]);

impl Transports {
    /// WebSocket first (one round trip, no upgrade), then polling.
    pub(crate) const DEFAULT: Transports = Transports([
        Some(Transport::WebSocket),
        #[cfg(feature = "polling")]
        Some(Transport::Polling),
        #[cfg(not(feature = "polling"))]
        None,
    ]);

    /// The transports of `list`, in its order, each once; `None` when it
    /// names none.
    pub(crate) fn new(list: impl IntoIterator<Item = Transport>) -> Option<Transports> {
        let mut order = [None; 2];
        let mut taken = 0;
        for transport in list {
            if taken < order.len() && !order[..taken].contains(&Some(transport)) {
                order[taken] = Some(transport);
                taken += 1;
            }
        }
        (taken > 0).then_some(Transports(order))
    }

    /// In the order to try them.
    pub(crate) fn iter(self) -> impl Iterator<Item = Transport> {
        self.0.into_iter().flatten()
    }

    pub(crate) fn contains(self, transport: Transport) -> bool {
        self.0.contains(&Some(transport))
    }

    /// The same, with `first` tried first.
    pub(crate) fn preferring(self, first: Transport) -> Transports {
        if !self.contains(first) {
            return self;
        }
        let rest = self.iter().filter(|t| *t != first);
        Transports::new(std::iter::once(first).chain(rest)).unwrap_or(self)
    }
}

/// A transport of Engine.IO: what carries a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// HTTP long-polling: a long GET to receive, a POST to send. It reaches
    /// servers and networks that refuse WebSocket.
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    Polling,
    /// One WebSocket.
    WebSocket,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_keep_their_order_each_once() {
        let ws = Transport::WebSocket;
        let all = |t: Transports| t.iter().collect::<Vec<_>>();
        assert_eq!(Transports::new([]), None);
        assert_eq!(all(Transports::new([ws, ws]).unwrap()), [ws]);
        #[cfg(feature = "polling")]
        {
            let polling = Transport::Polling;
            let both = Transports::new([polling, ws, polling]).unwrap();
            assert_eq!(all(both), [polling, ws]);
            assert!(both.contains(ws));
            assert_eq!(all(both.preferring(ws)), [ws, polling]);
            let only = Transports::new([polling]).unwrap();
            assert_eq!(all(only.preferring(ws)), [polling]);
            assert_eq!(all(Transports::DEFAULT), [ws, polling]);
        }
    }
}
