#include "cmatcher.h"

#include <stdlib.h>

// Orders live in a table indexed by their id; each price level is a doubly linked FIFO
// through that table, so a cancel is O(1). The best bid and ask are kept as indexes into
// the level array and move past emptied levels.

#define NONE UINT32_MAX

typedef struct {
    uint32_t next, prev;
    uint32_t quantity;  // 0: not resting
    int32_t level;
    uint32_t owner;
    uint8_t side;
} cm_order;

typedef struct {
    uint32_t head, tail;
} cm_level;

struct cm_book {
    int32_t min_price;
    int32_t levels_count;
    uint32_t max_orders;
    cm_level *levels[2];  // [side][price - min_price]
    cm_order *orders;
    int32_t best_bid;  // level index, -1: none
    int32_t best_ask;  // level index, levels_count: none
    cm_totals totals;
};

cm_book *cm_create(int32_t min_price, int32_t max_price, uint32_t max_orders) {
    if (max_price < min_price) return NULL;
    cm_book *book = calloc(1, sizeof(cm_book));
    if (!book) return NULL;
    book->min_price = min_price;
    book->levels_count = max_price - min_price + 1;
    book->max_orders = max_orders;
    for (int side = 0; side < 2; side++) {
        book->levels[side] = malloc(sizeof(cm_level) * (size_t)book->levels_count);
        for (int32_t i = 0; i < book->levels_count; i++) book->levels[side][i] = (cm_level){NONE, NONE};
    }
    book->orders = calloc(max_orders, sizeof(cm_order));
    book->best_bid = -1;
    book->best_ask = book->levels_count;
    return book;
}

void cm_destroy(cm_book *book) {
    if (!book) return;
    free(book->levels[0]);
    free(book->levels[1]);
    free(book->orders);
    free(book);
}

static void unlink_order(cm_book *book, uint32_t id) {
    cm_order *order = &book->orders[id];
    cm_level *level = &book->levels[order->side][order->level];
    if (order->prev != NONE) book->orders[order->prev].next = order->next; else level->head = order->next;
    if (order->next != NONE) book->orders[order->next].prev = order->prev; else level->tail = order->prev;
    order->quantity = 0;
    book->totals.resting_orders--;
}

static void settle_best(cm_book *book) {
    while (book->best_bid >= 0 && book->levels[0][book->best_bid].head == NONE) book->best_bid--;
    while (book->best_ask < book->levels_count && book->levels[1][book->best_ask].head == NONE) book->best_ask++;
}

int32_t cm_limit(cm_book *book, uint32_t id, uint32_t owner, int side, int32_t price, uint32_t quantity) {
    int32_t level = price - book->min_price;
    if (level < 0 || level >= book->levels_count || id >= book->max_orders || quantity == 0) return -1;
    int32_t fills = 0;
    int other = 1 - side;
    // Trade while the best opposite level is at the order's price or better.
    while (quantity > 0) {
        int32_t best = side == 0 ? book->best_ask : book->best_bid;
        if (side == 0 ? (best >= book->levels_count || best > level) : (best < 0 || best < level)) break;
        cm_level *opposite = &book->levels[other][best];
        while (quantity > 0 && opposite->head != NONE) {
            uint32_t maker = opposite->head;
            cm_order *resting = &book->orders[maker];
            if (resting->owner == owner) {
                book->totals.self_trade_expiries++;
                settle_best(book);
                return fills;
            }
            uint32_t traded = resting->quantity < quantity ? resting->quantity : quantity;
            resting->quantity -= traded;
            quantity -= traded;
            fills++;
            book->totals.trades++;
            book->totals.traded_quantity += traded;
            if (resting->quantity == 0) {
                resting->quantity = 1;  // unlink_order expects a resting order
                unlink_order(book, maker);
            }
        }
        settle_best(book);
    }
    if (quantity > 0) {
        cm_order *order = &book->orders[id];
        cm_level *rest = &book->levels[side][level];
        *order = (cm_order){NONE, rest->tail, quantity, level, owner, (uint8_t)side};
        if (rest->tail != NONE) book->orders[rest->tail].next = id; else rest->head = id;
        rest->tail = id;
        book->totals.resting_orders++;
        if (side == 0 && level > book->best_bid) book->best_bid = level;
        if (side == 1 && level < book->best_ask) book->best_ask = level;
    }
    return fills;
}

int32_t cm_cancel(cm_book *book, uint32_t id) {
    if (id >= book->max_orders || book->orders[id].quantity == 0) return 0;
    unlink_order(book, id);
    settle_best(book);
    book->totals.cancelled++;
    return 1;
}

cm_totals cm_get_totals(const cm_book *book) { return book->totals; }
