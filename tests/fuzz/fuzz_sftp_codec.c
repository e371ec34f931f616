/*
 * libFuzzer target for the SFTP codec: whatever a server sends, decoding
 * fails cleanly and every pointer handed out stays inside the packet.
 * Built with -DTS_FUZZ=ON (tests/fuzz/CMakeLists.txt); run it for long
 * with scripts/fuzz.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sftp_codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must survive -DNDEBUG. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
check_inside(const void *q, size_t n, const uint8_t *pkt, size_t len)
{
	uintptr_t	 a = (uintptr_t)q, lo = (uintptr_t)pkt;

	CHECK(a >= lo && n <= len && a - lo <= len - n);
}

/* Attributes that decoded must encode and decode to the same values. */
static void
check_attrs_round_trip(const struct sftp_attrs *a)
{
	struct sftp_reply	 r;
	struct ts_error		 err;
	struct buf		 b;
	uint8_t			 hdr[5] = { SSH_FXP_ATTRS, 0, 0, 0, 1 };

	buf_init(&b, 1024);
	CHECK(buf_append(&b, hdr, sizeof(hdr)) == 0);
	CHECK(sftp_enc_attrs(&b, a) == 0);
	error_clear(&err);
	CHECK(sftp_dec_reply(&r, b.data, b.len, &err) == 0);
	CHECK(r.attrs.flags == a->flags);
	CHECK(r.attrs.size == a->size && r.attrs.uid == a->uid &&
	    r.attrs.gid == a->gid && r.attrs.perm == a->perm &&
	    r.attrs.atime == a->atime && r.attrs.mtime == a->mtime);
	buf_dispose(&b);
}

static void
decode_packet(const uint8_t *pkt, size_t len)
{
	struct sftp_name_iter	 it;
	struct sftp_ext_iter	 eit;
	struct sftp_ext_pair	 e;
	struct sftp_statvfs	 s;
	struct sftp_limits	 l;
	struct sftp_reply	 r;
	struct sftp_name	 n;
	struct ts_error		 err;
	uint32_t		 version, seen;
	int			 rc;

	error_clear(&err);
	rc = sftp_dec_reply(&r, pkt, len, &err);
	CHECK(rc == 0 || (rc == TS_EREMOTE && err.code == TS_EREMOTE));
	if (rc == 0) {
		if (r.msg != NULL)
			check_inside(r.msg, r.msg_len, pkt, len);
		if (r.data != NULL)
			check_inside(r.data, r.data_len, pkt, len);
		CHECK(r.handle.len <= SFTP_MAX_HANDLE);
		if (r.type == SSH_FXP_ATTRS)
			check_attrs_round_trip(&r.attrs);
		if (r.type == SSH_FXP_NAME) {
			check_inside(r.names, r.names_len, pkt, len);
			sftp_name_iter_init(&it, &r);
			seen = 0;
			while ((rc = sftp_name_next(&it, &n, NULL)) == 1) {
				check_inside(n.name, n.name_len, pkt, len);
				check_inside(n.longname, n.longname_len, pkt,
				    len);
				check_attrs_round_trip(&n.attrs);
				seen++;
			}
			CHECK(rc == 0 || rc == TS_EREMOTE);
			CHECK(seen <= r.count);
		}
		if (r.type == SSH_FXP_EXTENDED_REPLY) {
			check_inside(r.ext, r.ext_len, pkt, len);
			(void)sftp_dec_limits(&l, r.ext, r.ext_len, NULL);
			(void)sftp_dec_statvfs(&s, r.ext, r.ext_len, NULL);
		}
	}
	if (sftp_dec_version(&version, &eit, pkt, len, NULL) == 0)
		while (sftp_ext_next(&eit, &e, NULL) == 1) {
			check_inside(e.name, e.name_len, pkt, len);
			check_inside(e.data, e.data_len, pkt, len);
		}
	(void)sftp_dec_limits(&l, pkt, len, NULL);
	(void)sftp_dec_statvfs(&s, pkt, len, NULL);
}

/* The input is a byte stream from the server: cut it into frames as the
 * engine would, decode each, and stop where framing stops. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ts_error	 err;
	uint8_t		*pkt;
	uint32_t	 len;
	int		 rc;

	for (;;) {
		error_clear(&err);
		rc = sftp_frame(data, size, SFTP_MAX_PACKET, &len, &err);
		CHECK(rc == 0 || rc == 1 || rc == TS_EREMOTE);
		if (rc != 1)
			break;
		CHECK(len >= 1 && len <= size - 4);
		/* An exact-size copy: a read past the packet is an ASan
		 * report, not a quiet read of the next frame. */
		if ((pkt = malloc(len)) == NULL)
			return 0;
		memcpy(pkt, data + 4, len);
		decode_packet(pkt, len);
		free(pkt);
		data += 4 + (size_t)len;
		size -= 4 + (size_t)len;
	}
	/* What framing left over goes in unframed too, so inputs reach the
	 * decoders without having to grow a valid prefix first. */
	if (size != 0 && (pkt = malloc(size)) != NULL) {
		memcpy(pkt, data, size);
		decode_packet(pkt, size);
		free(pkt);
	}
	return 0;
}
