//! Machine-wide terminal slots, settings and cafe-limited claims: caps, first come first
//! served across waiters, dead holders never leak a slot.

use std::time::Duration;

use codecafe_store::slots::{DEFAULT_POOL_MAX, POOL_MAX_KEY};
use codecafe_store::{Claim, NewOrder, SlotRequest, Store};
use serde_json::json;

fn request<'a>(holder: &'a str, provider: &'a str) -> SlotRequest<'a> {
    SlotRequest {
        holder,
        provider,
        order_id: None,
        stage: None,
    }
}

fn everyone_alive(_: &str) -> bool {
    true
}

#[test]
fn caps_hold_in_total_and_per_provider_and_apply_at_once() {
    let store = Store::open_in_memory().expect("store");
    assert_eq!(store.pool_caps().expect("caps").max, DEFAULT_POOL_MAX);
    store.set_setting(POOL_MAX_KEY, &json!(2)).expect("set");
    store
        .set_setting("pool.provider.codex", &json!(1))
        .expect("set");
    let take = |holder: &str, provider: &str| {
        let ticket = store.enqueue_for_slot(holder, provider).expect("ticket");
        let lease = store
            .try_take_slot(ticket, &request(holder, provider), &everyone_alive)
            .expect("ask");
        if lease.is_none() {
            store.leave_slot_queue(ticket).expect("leave");
        }
        lease
    };
    let first = take("p1", "codex").expect("a first codex slot");
    assert!(take("p1", "codex").is_none(), "codex is at its own cap");
    let second = take("p2", "claude-code").expect("the total has room");
    assert!(
        take("p2", "claude-code").is_none(),
        "the total is at its cap"
    );
    store.release_slot(first).expect("release");
    assert!(
        take("p3", "claude-code").is_some(),
        "a returned slot is free again"
    );
    store.set_setting(POOL_MAX_KEY, &json!(3)).expect("raise");
    assert!(
        take("p3", "claude-code").is_some(),
        "a raised cap applies at once"
    );
    store.release_slot(second).expect("release");
    assert_eq!(store.slots().expect("slots").len(), 2);
}

#[test]
fn an_older_waiter_goes_first_unless_its_provider_is_full() {
    let store = Store::open_in_memory().expect("store");
    store.set_setting(POOL_MAX_KEY, &json!(1)).expect("set");
    let held = {
        let t = store.enqueue_for_slot("a", "x").expect("ticket");
        store
            .try_take_slot(t, &request("a", "x"), &everyone_alive)
            .expect("ask")
            .expect("free")
    };
    let older = store.enqueue_for_slot("b", "x").expect("older ticket");
    let newer = store.enqueue_for_slot("c", "y").expect("newer ticket");
    assert!(
        store
            .try_take_slot(older, &request("b", "x"), &everyone_alive)
            .expect("ask")
            .is_none()
    );
    store.release_slot(held).expect("release");
    assert!(
        store
            .try_take_slot(newer, &request("c", "y"), &everyone_alive)
            .expect("ask")
            .is_none(),
        "the newer waiter must not overtake the older one"
    );
    assert!(
        store
            .try_take_slot(older, &request("b", "x"), &everyone_alive)
            .expect("ask")
            .is_some()
    );
}

#[test]
fn a_dead_holders_slots_and_tickets_are_reaped() {
    let store = Store::open_in_memory().expect("store");
    store.set_setting(POOL_MAX_KEY, &json!(1)).expect("set");
    let t = store.enqueue_for_slot("dead", "x").expect("ticket");
    store
        .try_take_slot(t, &request("dead", "x"), &everyone_alive)
        .expect("ask")
        .expect("granted");
    store
        .enqueue_for_slot("dead", "x")
        .expect("a ticket of the dead");
    let mine = store.enqueue_for_slot("alive", "x").expect("ticket");
    let alive = |holder: &str| holder != "dead";
    let lease = store
        .try_take_slot(mine, &request("alive", "x"), &alive)
        .expect("ask");
    assert!(
        lease.is_some(),
        "the dead holder's slot and ticket were reaped"
    );
    assert_eq!(store.slot_queue_len().expect("queue"), 0);
}

#[test]
fn a_bad_cap_setting_is_an_error_that_says_how_to_fix_it() {
    let store = Store::open_in_memory().expect("store");
    store
        .set_setting(POOL_MAX_KEY, &json!("lots"))
        .expect("set");
    let err = store.pool_caps().expect_err("not a number");
    assert!(
        err.to_string().contains("codecafe config set pool.max"),
        "{err}"
    );
}

#[test]
fn a_cafe_runs_at_most_its_limit_of_orders_and_the_rest_queue() {
    let store = Store::open_in_memory().expect("store");
    let a = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("a")
        .id;
    let b = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("b")
        .id;
    let other = store
        .create_order(&NewOrder::new("other", "moon"))
        .expect("c")
        .id;
    let stale = Duration::from_secs(60);
    let claim = |id, runner| {
        store
            .claim_order_within(id, runner, stale, Some(1), &everyone_alive)
            .expect("claim")
    };
    assert!(matches!(claim(a, "r1"), Claim::Claimed(_)));
    assert!(matches!(
        claim(b, "r2"),
        Claim::Queued { running: 1, max: 1 }
    ));
    assert!(
        matches!(claim(other, "r2"), Claim::Claimed(_)),
        "another cafe is not limited"
    );
    store.release_order(a, "r1").expect("release");
    assert!(matches!(claim(b, "r2"), Claim::Claimed(_)));
    // A dead runner's claim does not count.
    let c = store
        .create_order(&NewOrder::new("cafe", "moon"))
        .expect("c")
        .id;
    let claimed = store
        .claim_order_within(c, "r3", stale, Some(1), &|holder: &str| holder != "r2")
        .expect("claim");
    assert!(matches!(claimed, Claim::Claimed(_)));
}

#[test]
fn a_cafe_limit_counts_each_runners_orders_and_asks_once_per_runner_whether_it_lives() {
    let store = Store::open_in_memory().expect("store");
    let stale = Duration::from_secs(60);
    let new = || {
        store
            .create_order(&NewOrder::new("cafe", "moon"))
            .expect("order")
            .id
    };
    for runner in ["r1", "r1", "r1", "r2", "r2"] {
        let id = new();
        assert!(matches!(
            store
                .claim_order_within(id, runner, stale, None, &everyone_alive)
                .expect("claim"),
            Claim::Claimed(_)
        ));
    }
    let asked = std::cell::RefCell::new(Vec::new());
    let alive = |holder: &str| {
        asked.borrow_mut().push(holder.to_owned());
        holder != "r2"
    };
    let queued = store
        .claim_order_within(new(), "r3", stale, Some(3), &alive)
        .expect("claim");
    assert_eq!(queued, Claim::Queued { running: 3, max: 3 });
    let mut asked = asked.into_inner();
    asked.sort();
    assert_eq!(asked, ["r1", "r2"], "once per runner");
}
