/* Growable byte buffers with a maximum size, and big-endian helpers. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t		*data;
	size_t		 len;		/* bytes in use */
	size_t		 cap;		/* bytes allocated */
	size_t		 max;		/* the most it may grow to */
};

void	buf_init(struct buf *b, size_t max);
void	buf_dispose(struct buf *b);		/* empty or NULL is fine */
/* Makes room for n more bytes; -1 when that would pass max or no memory. */
int	buf_reserve(struct buf *b, size_t n);
int	buf_append(struct buf *b, const void *p, size_t n);
int	buf_append_u8(struct buf *b, uint8_t v);
int	buf_append_u32(struct buf *b, uint32_t v);
int	buf_append_u64(struct buf *b, uint64_t v);
/* An SSH string: a u32 length, then the bytes. */
int	buf_append_str(struct buf *b, const void *p, size_t n);
/* Drops the first n bytes. */
void	buf_consume(struct buf *b, size_t n);
void	buf_reset(struct buf *b);

void	put_u32(uint8_t *p, uint32_t v);
uint32_t get_u32(const uint8_t *p);
uint64_t get_u64(const uint8_t *p);

#endif
