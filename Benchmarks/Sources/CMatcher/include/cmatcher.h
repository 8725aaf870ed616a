// A plain price-time matcher (limit orders and cancels by id, no accounts, no margin), the
// yardstick the engine's figures are divided by (docs/BENCHMARKS.md, "Against a pure
// matcher"). Written for this project from the issue's description of such an engine.
#ifndef CMATCHER_H
#define CMATCHER_H

#include <stdint.h>

typedef struct cm_book cm_book;

/// A book for prices min_price ... max_price (ticks) and order ids 0 ..< max_orders.
cm_book *cm_create(int32_t min_price, int32_t max_price, uint32_t max_orders);
void cm_destroy(cm_book *book);

/// A limit order, good till cancelled: it trades against the other side at prices as
/// good as `price`, oldest first at each price, and rests what is left under `id`.
/// side: 0 buy, 1 sell. Self-trade prevention as the engine's default (expire taker): on
/// reaching an order of the same `owner` it stops, and what is left of it expires.
/// Returns the number of fills. Ids must be new and < max_orders; a price outside the
/// book's range is refused (returns -1).
int32_t cm_limit(cm_book *book, uint32_t id, uint32_t owner, int side, int32_t price, uint32_t quantity);

/// Cancels the resting order `id`: 1 if it rested, 0 if it is unknown or already gone.
int32_t cm_cancel(cm_book *book, uint32_t id);

typedef struct {
    uint64_t trades;
    uint64_t traded_quantity;
    uint64_t resting_orders;
    uint64_t cancelled;
    uint64_t self_trade_expiries;
} cm_totals;

cm_totals cm_get_totals(const cm_book *book);

#endif
