//! Taking from a `VecDeque` so that one that is idle holds no memory: every
//! idle connection keeps several queues that once held a message or two.

use std::collections::VecDeque;

/// The room a deque may have and still give it back once empty. A deque
/// that grew past it is a busy one, which keeps its room for the next burst
/// rather than grow again.
const SMALL: usize = 8;

/// Takes the front item; a small deque left empty gives its room back.
pub(crate) fn pop_front<T>(items: &mut VecDeque<T>) -> Option<T> {
    let item = items.pop_front();
    release_if_idle(items);
    item
}

/// Gives the room of a small, empty deque back.
pub(crate) fn release_if_idle<T>(items: &mut VecDeque<T>) {
    if items.is_empty() && items.capacity() > 0 && items.capacity() <= SMALL {
        *items = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_deque_gives_its_room_back_once_empty_and_a_busy_one_keeps_it() {
        let mut small: VecDeque<u32> = VecDeque::new();
        small.push_back(1);
        small.push_back(2);
        assert_eq!(pop_front(&mut small), Some(1));
        assert!(small.capacity() > 0, "not empty yet");
        assert_eq!(pop_front(&mut small), Some(2));
        assert_eq!(small.capacity(), 0);
        assert_eq!(pop_front(&mut small), None);

        let mut busy: VecDeque<u32> = (0..100).collect();
        while pop_front(&mut busy).is_some() {}
        assert!(busy.capacity() >= 100);
    }
}
