//! The queues between a connection's tasks and handles: bounded or not,
//! many senders, one receiver, async on both ends.
//!
//! Every idle connection keeps three of them, so they allocate nothing until
//! used: a tokio `mpsc` channel allocates a block of 32 slots and cache-padded
//! state up front, over a kilobyte each. The cost is a mutex around each
//! push and pop; it is held for a few instructions, never across an await,
//! and the two ends of a queue rarely run at the same instant.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::deque;

/// A queue of at most `capacity` items (at least 1).
pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            receiver: None,
            waiting_senders: Vec::new(),
            senders: 1,
            receiver_alive: true,
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// A queue without a limit.
pub(crate) fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    bounded(usize::MAX)
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    items: VecDeque<T>,
    capacity: usize,
    /// The receiver waiting for an item.
    receiver: Option<Waker>,
    /// Senders waiting for room; all are woken when room appears, so a
    /// sender that stopped waiting costs nothing but a spurious wake.
    waiting_senders: Vec<Waker>,
    /// Live senders; at 0 the receiver sees the end.
    senders: usize,
    receiver_alive: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held, but a poisoned queue is
        // still a consistent one.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why an item could not be queued; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TrySendError<T> {
    /// The queue holds `capacity` items.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The receiver is gone.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// Why no item was taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryRecvError {
    /// None is queued now.
    Empty,
    /// None is queued and every sender is gone.
    Closed,
}

/// The sending end; cloned for each producer.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queues `item` if there is room.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(TrySendError::Closed(item));
        }
        if state.items.len() >= state.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Ok(())
    }

    /// Queues `item`, waiting for room.
    pub(crate) async fn send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut item = Some(item);
        poll_fn(|cx| {
            let Some(next) = item.take() else {
                return Poll::Ready(Ok(()));
            };
            match self.try_send(next) {
                Err(TrySendError::Full(back)) => {
                    item = Some(back);
                    match self.poll_ready(cx) {
                        // Room appeared in between: try again at once.
                        Poll::Ready(_) => {
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                        Poll::Pending => Poll::Pending,
                    }
                }
                done => Poll::Ready(done),
            }
        })
        .await
    }

    /// Ready when the queue has room or the receiver is gone.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Poll::Ready(Err(Closed));
        }
        if state.items.len() < state.capacity {
            return Poll::Ready(Ok(()));
        }
        if !state
            .waiting_senders
            .iter()
            .any(|w| w.will_wake(cx.waker()))
        {
            state.waiting_senders.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// A sender that does not keep the queue open.
    pub(crate) fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let receiver = (state.senders == 0)
            .then(|| state.receiver.take())
            .flatten();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// A sender that does not keep the queue open: the receiver sees the end
/// when every [`Sender`] is gone.
pub(crate) struct WeakSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> WeakSender<T> {
    /// A sender, unless every sender is gone.
    pub(crate) fn upgrade(&self) -> Option<Sender<T>> {
        let mut state = self.shared.lock();
        if state.senders == 0 {
            return None;
        }
        state.senders += 1;
        Some(Sender {
            shared: self.shared.clone(),
        })
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender").finish_non_exhaustive()
    }
}

/// The receiving end.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item, if one is queued.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match deque::pop_front(&mut state.items) {
            Some(item) => {
                let senders = wake_senders(&mut state, 1);
                drop(state);
                senders.into_iter().for_each(Waker::wake);
                Ok(item)
            }
            None if state.senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Up to `max` of the queued items, oldest first, taken at once: one lock
    /// for a batch instead of one per item.
    pub(crate) fn try_recv_many(&self, max: usize) -> Vec<T> {
        let mut state = self.shared.lock();
        let taken = state.items.len().min(max);
        if taken == 0 {
            return Vec::new();
        }
        let items: Vec<T> = state.items.drain(..taken).collect();
        deque::release_if_idle(&mut state.items);
        let senders = wake_senders(&mut state, taken);
        drop(state);
        senders.into_iter().for_each(Waker::wake);
        items
    }

    /// The next item; `None` once every sender is gone and the queue is empty.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock();
        if let Some(item) = deque::pop_front(&mut state.items) {
            let senders = wake_senders(&mut state, 1);
            drop(state);
            senders.into_iter().for_each(Waker::wake);
            return Poll::Ready(Some(item));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        match &state.receiver {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.receiver = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item; `None` once every sender is gone and the queue is empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Whether no item is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.shared.lock().items.is_empty()
    }
}

/// The senders to wake after `taken` items left a queue that was full.
fn wake_senders<T>(state: &mut State<T>, taken: usize) -> Vec<Waker> {
    if state.waiting_senders.is_empty() || state.items.len() + taken < state.capacity {
        return Vec::new();
    }
    std::mem::take(&mut state.waiting_senders)
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        let senders = std::mem::take(&mut state.waiting_senders);
        // Queued items go now, not when the last sender does.
        let items = std::mem::take(&mut state.items);
        drop(state);
        drop(items);
        senders.into_iter().for_each(Waker::wake);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn items_come_out_in_order_up_to_the_capacity() {
        let (tx, rx) = bounded(2);
        assert_eq!(tx.try_send(1), Ok(()));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(tx.try_send(3), Ok(()));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_leaves_in_order_and_makes_room_for_a_waiting_sender() {
        let (tx, rx) = bounded(3);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        let waiting = tokio::spawn(async move {
            tx.send(3).await.unwrap();
            tx
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the queue is full");
        assert_eq!(rx.try_recv_many(2), [0, 1]);
        let tx = waiting.await.unwrap();
        assert_eq!(rx.try_recv_many(10), [2, 3]);
        assert!(rx.try_recv_many(10).is_empty());
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn the_end_comes_when_every_sender_is_gone_and_weak_ones_do_not_count() {
        let (tx, rx) = unbounded();
        let weak = tx.downgrade();
        let second = weak.upgrade().expect("a sender is alive");
        drop(tx);
        second.try_send(7).unwrap();
        drop(second);
        assert!(weak.upgrade().is_none());
        assert_eq!(rx.try_recv(), Ok(7));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn senders_learn_that_the_receiver_is_gone() {
        let (tx, rx) = bounded(1);
        tx.try_send(1).unwrap();
        drop(rx);
        assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    }

    #[test]
    fn nothing_is_allocated_before_the_first_item() {
        let (_tx, rx) = bounded::<[u64; 64]>(1024);
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_makes_send_wait_and_an_empty_one_makes_recv_wait() {
        let (tx, rx) = bounded(1);
        tx.try_send(0).unwrap();
        let producer = tokio::spawn(async move {
            for i in 1..=100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        producer.await.unwrap();
        assert_eq!(got, (0..=100).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_send_does_not_keep_another_waiting() {
        let (tx, rx) = bounded(1);
        tx.try_send(0).unwrap();
        let cancelled = tokio::time::timeout(Duration::from_millis(1), tx.send(1)).await;
        assert!(cancelled.is_err());
        let tx2 = tx.clone();
        let waiting = tokio::spawn(async move { tx2.send(2).await });
        tokio::task::yield_now().await;
        assert_eq!(rx.recv().await, Some(0));
        waiting.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
    }
}
