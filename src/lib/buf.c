#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
buf_dispose(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 want, cap;
	uint8_t	*p;

	if (n > b->max || b->len > b->max - n)
		return -1;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < want)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_append_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int
buf_append_u32(struct buf *b, uint32_t v)
{
	uint8_t	 p[4];

	put_u32(p, v);
	return buf_append(b, p, 4);
}

int
buf_append_u64(struct buf *b, uint64_t v)
{
	uint8_t	 p[8];

	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
	return buf_append(b, p, 8);
}

int
buf_append_str(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX || buf_reserve(b, 4 + n) != 0)
		return -1;
	buf_append_u32(b, (uint32_t)n);
	return buf_append(b, p, n);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}
