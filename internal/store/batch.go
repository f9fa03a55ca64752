package store

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Batch after Close.
var ErrClosed = errors.New("store: database closed")

// maxBatch bounds how many operations share one transaction.
const maxBatch = 64

// batcher is group commit for small, hot writes (a delivery's claim, its attempt record):
// operations queued by many goroutines run together in one transaction, so a burst costs
// one BEGIN/COMMIT — one WAL flush — instead of one each, and holds one connection instead
// of many. Nothing waits to fill a batch: a loop takes what is queued when it is free.
type batcher struct {
	db     *DB
	ops    chan *batchOp
	closed chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	// mu orders sends against stop: a sender holds it shared while it queues, so once stop
	// has it exclusively no operation can be queued behind the loops' final drain.
	mu       sync.RWMutex
	stopping bool
}

type batchOp struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

func (db *DB) startBatcher() {
	loops := 1 // SQLite has one writer
	if db.Dialect == Postgres {
		loops = 8
	}
	b := &batcher{db: db, ops: make(chan *batchOp, maxBatch*loops), closed: make(chan struct{})}
	for range loops {
		b.wg.Go(b.loop)
	}
	db.batch = b
}

func (b *batcher) stop() {
	b.once.Do(func() {
		b.mu.Lock()
		b.stopping = true
		b.mu.Unlock()
		close(b.closed)
	})
	b.wg.Wait()
}

// Batch runs fn in a transaction shared with other Batch callers and returns when that
// transaction has committed (nil) or fn's own error. fn may run more than once — when
// another operation of its batch fails, each is retried alone — so it must only write
// through tx and reset anything it captures. fn must not call Batch.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) error {
	op := &batchOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b := db.batch
	b.mu.RLock()
	if b.stopping {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.ops <- op:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued the operation runs to its end: waiting for it keeps the caller from
	// acting on a write whose outcome it does not know.
	return <-op.done
}

func (b *batcher) loop() {
	ops := make([]*batchOp, 0, maxBatch)
	for {
		select {
		case <-b.closed:
			b.drain()
			return
		case op := <-b.ops:
			ops = append(ops[:0], op)
		}
	fill:
		for len(ops) < maxBatch {
			select {
			case op := <-b.ops:
				ops = append(ops, op)
			default:
				break fill
			}
		}
		b.run(ops)
	}
}

// drain finishes operations queued before Close.
func (b *batcher) drain() {
	for {
		select {
		case op := <-b.ops:
			b.run([]*batchOp{op})
		default:
			return
		}
	}
}

func (b *batcher) run(ops []*batchOp) {
	if len(ops) == 1 {
		ops[0].done <- b.db.InTx(context.WithoutCancel(ops[0].ctx), ops[0].fn)
		return
	}
	err := b.db.InTx(context.Background(), func(tx *Tx) error {
		for _, op := range ops {
			if err := op.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, op := range ops {
			op.done <- nil
		}
		return
	}
	// One operation failed and took the batch with it: run each alone, so each caller gets
	// its own outcome.
	for _, op := range ops {
		op.done <- b.db.InTx(context.WithoutCancel(op.ctx), op.fn)
	}
}
