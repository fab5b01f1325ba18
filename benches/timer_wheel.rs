//! The worker's timing wheel (`portico::dataplane::wheel`), as 15,000 quiet
//! connections use it: each waits out a 75 s keep-alive in 10 ms ticks
//! (7,500 ticks, about two turns of the wheel's 4,096 slots). Arming and
//! disarming is what every quiet wait that ends in a request costs;
//! a tick's expiry is what the worker pays every 10 ms.
//! Run with `cargo bench --bench timer_wheel`.

use criterion::{black_box, criterion_group, Criterion};
use portico::dataplane::wheel::Wheel;

const SLOTS: usize = 4096;
const CONNECTIONS: u32 = 15_000;
/// 75 s in 10 ms ticks.
const KEEPALIVE: u64 = 7_500;

/// `CONNECTIONS` keys armed, their deadlines spread over one keep-alive.
fn loaded() -> Wheel {
    let mut w = Wheel::new(SLOTS);
    for k in 0..CONNECTIONS {
        w.arm(k, 1 + u64::from(k) * KEEPALIVE / u64::from(CONNECTIONS));
    }
    w
}

fn wheel(c: &mut Criterion) {
    let mut w = loaded();
    let key = CONNECTIONS;
    c.bench_function("wheel_arm_then_disarm_among_15000", |b| {
        b.iter(|| {
            w.arm(black_box(key), w.now() + KEEPALIVE);
            w.disarm(black_box(key))
        })
    });

    // Each tick expires the keys due and arms them again a keep-alive
    // later: a steady 15,000 waits, two expiring per tick.
    let mut w = loaded();
    let mut expired = Vec::new();
    c.bench_function("wheel_tick_among_15000_rearming_expired", |b| {
        b.iter(|| {
            let tick = w.now() + 1;
            w.advance(tick, &mut expired);
            for k in expired.drain(..) {
                w.arm(k, tick + KEEPALIVE);
            }
            w.len()
        })
    });
}

criterion_group!(benches, wheel);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
