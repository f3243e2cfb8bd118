//! Keyset paging of orders ([`OrderFilter::before`]) and the latest event's sequence number
//! ([`Store::last_seq`]), as a server's event streams and order list use them.

use codecafe_store::event::{EventBody, Warning};
use codecafe_store::{NewOrder, OrderCursor, OrderFilter, Store};

#[test]
fn pages_by_cursor_see_every_order_once_even_when_many_share_a_millisecond() {
    let store = Store::open_in_memory().expect("store");
    for i in 0..57 {
        let cafe = if i % 3 == 0 { "a" } else { "b" };
        store
            .create_order(&NewOrder::new(cafe, "moon").prompt(format!("order {i}")))
            .expect("create");
    }
    for filter in [OrderFilter::all(), OrderFilter::all().cafe("b")] {
        let everything = store.list_orders(&filter).expect("all");
        let mut paged = Vec::new();
        let mut cursor: Option<OrderCursor> = None;
        loop {
            let mut page_filter = filter.clone().limit(7);
            page_filter.before = cursor.clone();
            let page = store.list_orders(&page_filter).expect("page");
            let Some(last) = page.last() else { break };
            cursor = Some(OrderCursor::after(last));
            paged.extend(page);
        }
        assert_eq!(
            paged, everything,
            "every order once, in the listing's order"
        );
        let counted = store
            .count_orders(&filter.clone().before(OrderCursor::after(&everything[3])))
            .expect("count");
        assert_eq!(counted, everything.len(), "counting ignores the cursor");
    }
}

#[test]
fn the_latest_sequence_number_covers_every_order() {
    let store = Store::open_in_memory().expect("store");
    assert_eq!(store.last_seq().expect("seq"), 0);
    let a = store.create_order(&NewOrder::new("c", "moon")).expect("a");
    let b = store.create_order(&NewOrder::new("c", "moon")).expect("b");
    let warn = |m: &str| EventBody::Warning(Warning { message: m.into() });
    store.append_event(a.id, &warn("one")).expect("event");
    let last = store.append_event(b.id, &warn("two")).expect("event");
    assert_eq!(store.last_seq().expect("seq"), last.seq);
    let all = store.events_after(0, 10).expect("events");
    assert_eq!(all.last().map(|e| e.seq), Some(last.seq));
}
