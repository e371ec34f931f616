/*
 * SFTP version 3 packets: draft-ietf-secsh-filexfer-02 and the extensions
 * in OpenSSH's PROTOCOL file, section 4.  Pure: no I/O, no clock, no
 * allocation beyond the caller's buf.
 *
 * Everything a server sends is untrusted: every length and count is checked
 * against the bytes that are left before anything is read, so a hostile or
 * broken server can make a decoder fail, never read out of bounds or spin.
 */
#include <assert.h>
#include <string.h>

#include "error.h"
#include "sftp_codec.h"

#define MALFORMED	"malformed SFTP packet from the server: "

/* The attribute flags SFTP v3 defines fields for (draft section 5). */
#define ATTR_KNOWN	(SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID | \
			    SSH_FILEXFER_ATTR_PERMISSIONS | \
			    SSH_FILEXFER_ATTR_ACMODTIME)

/* The smallest wire size of one NAME entry: two empty strings and flags. */
#define NAME_ENTRY_MIN	(4 + 4 + 4)
/* The smallest wire size of one extended attribute: two empty strings. */
#define EXT_PAIR_MIN	(4 + 4)

#define LIMITS_LEN	(4 * 8)
#define STATVFS_LEN	(11 * 8)

/*
 * Encoding.  A packet is built field by field straight into the caller's
 * buf; the first failed append marks the encoder failed and later appends
 * are skipped, so the end can roll the buf back to where it was and leave
 * nothing half-written behind.
 */
struct enc {
	struct buf	*b;
	size_t		 start;		/* b->len before the first byte */
	bool		 failed;
};

static void
enc_start(struct enc *e, struct buf *b)
{
	e->b = b;
	e->start = b->len;
	e->failed = false;
}

static void
enc_u8(struct enc *e, uint8_t v)
{
	if (!e->failed && buf_append_u8(e->b, v) != 0)
		e->failed = true;
}

static void
enc_u32(struct enc *e, uint32_t v)
{
	if (!e->failed && buf_append_u32(e->b, v) != 0)
		e->failed = true;
}

static void
enc_u64(struct enc *e, uint64_t v)
{
	if (!e->failed && buf_append_u64(e->b, v) != 0)
		e->failed = true;
}

static void
enc_str(struct enc *e, const void *p, size_t n)
{
	if (!e->failed && buf_append_str(e->b, p, n) != 0)
		e->failed = true;
}

static void
enc_cstr(struct enc *e, const char *s)
{
	assert(s != NULL);
	enc_str(e, s, strlen(s));
}

static void
enc_handle(struct enc *e, const struct sftp_handle *h)
{
	assert(h != NULL && h->len <= SFTP_MAX_HANDLE);
	enc_str(e, h->data, h->len);
}

/* Attributes (draft section 5): flags, then only the fields flags name, in
 * a fixed order.  We never send EXTENDED: we have no pairs to send, and
 * unknown bits would make the server look for fields that are not there.
 * NULL means no attributes (flags 0). */
static void
enc_attrs(struct enc *e, const struct sftp_attrs *a)
{
	uint32_t	 flags;

	flags = a != NULL ? a->flags & ATTR_KNOWN : 0;
	enc_u32(e, flags);
	if (flags & SSH_FILEXFER_ATTR_SIZE)
		enc_u64(e, a->size);
	if (flags & SSH_FILEXFER_ATTR_UIDGID) {
		enc_u32(e, a->uid);
		enc_u32(e, a->gid);
	}
	if (flags & SSH_FILEXFER_ATTR_PERMISSIONS)
		enc_u32(e, a->perm);
	if (flags & SSH_FILEXFER_ATTR_ACMODTIME) {
		enc_u32(e, a->atime);
		enc_u32(e, a->mtime);
	}
}

/* Every packet (draft section 3): uint32 length, byte type, then the body.
 * The length is a placeholder that pkt_end fills in. */
static void
pkt_start(struct enc *e, struct buf *b, uint8_t type)
{
	enc_start(e, b);
	enc_u32(e, 0);
	enc_u8(e, type);
}

/* Requests after INIT carry an id the reply echoes (draft section 3). */
static void
pkt_start_id(struct enc *e, struct buf *b, uint8_t type, uint32_t id)
{
	pkt_start(e, b, type);
	enc_u32(e, id);
}

/* Extension requests (draft section 8): SSH_FXP_EXTENDED, the id, then the
 * request name; the extension's fields follow. */
static void
pkt_start_ext(struct enc *e, struct buf *b, uint32_t id, const char *name)
{
	pkt_start_id(e, b, SSH_FXP_EXTENDED, id);
	enc_cstr(e, name);
}

/* Returns 0 with the whole packet appended, or -1 with the buf as it was. */
static int
pkt_end(struct enc *e)
{
	size_t	 n;

	if (!e->failed) {
		n = e->b->len - e->start - 4;
		if (n <= UINT32_MAX) {
			put_u32(e->b->data + e->start, (uint32_t)n);
			return 0;
		}
	}
	e->b->len = e->start;
	return -1;
}

int
sftp_enc_init(struct buf *b, uint32_t version)
{
	struct enc	 e;

	/* INIT has no id: the version stands in its place (section 4). */
	pkt_start(&e, b, SSH_FXP_INIT);
	enc_u32(&e, version);
	return pkt_end(&e);
}

int
sftp_enc_open(struct buf *b, uint32_t id, const char *path, uint32_t pflags,
    const struct sftp_attrs *a)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_OPEN, id);
	enc_cstr(&e, path);
	enc_u32(&e, pflags);
	enc_attrs(&e, a);
	return pkt_end(&e);
}

int
sftp_enc_handle_op(struct buf *b, uint8_t type, uint32_t id,
    const struct sftp_handle *h)
{
	struct enc	 e;

	assert(type == SSH_FXP_CLOSE || type == SSH_FXP_FSTAT ||
	    type == SSH_FXP_READDIR);
	pkt_start_id(&e, b, type, id);
	enc_handle(&e, h);
	return pkt_end(&e);
}

int
sftp_enc_path_op(struct buf *b, uint8_t type, uint32_t id, const char *path)
{
	struct enc	 e;

	assert(type == SSH_FXP_LSTAT || type == SSH_FXP_STAT ||
	    type == SSH_FXP_OPENDIR || type == SSH_FXP_REMOVE ||
	    type == SSH_FXP_RMDIR || type == SSH_FXP_REALPATH ||
	    type == SSH_FXP_READLINK);
	pkt_start_id(&e, b, type, id);
	enc_cstr(&e, path);
	return pkt_end(&e);
}

int
sftp_enc_read(struct buf *b, uint32_t id, const struct sftp_handle *h,
    uint64_t offset, uint32_t len)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_READ, id);
	enc_handle(&e, h);
	enc_u64(&e, offset);
	enc_u32(&e, len);
	return pkt_end(&e);
}

int
sftp_enc_write(struct buf *b, uint32_t id, const struct sftp_handle *h,
    uint64_t offset, const void *data, uint32_t len)
{
	struct enc	 e;

	assert(data != NULL || len == 0);
	pkt_start_id(&e, b, SSH_FXP_WRITE, id);
	enc_handle(&e, h);
	enc_u64(&e, offset);
	enc_str(&e, data, len);
	return pkt_end(&e);
}

uint8_t *
sftp_enc_write_room(struct buf *b, uint32_t id, const struct sftp_handle *h,
    uint64_t offset, uint32_t len, size_t *start)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_WRITE, id);
	enc_handle(&e, h);
	enc_u64(&e, offset);
	enc_u32(&e, len);
	if (e.failed || buf_reserve(b, len) != 0) {
		b->len = e.start;
		return NULL;
	}
	b->len += len;
	put_u32(b->data + e.start, (uint32_t)(b->len - e.start - 4));
	*start = e.start;
	return b->data + b->len - len;
}

void
sftp_enc_write_shrink(struct buf *b, size_t start, uint32_t len,
    uint32_t used)
{
	b->len -= len - used;
	put_u32(b->data + start, (uint32_t)(b->len - start - 4));
	put_u32(b->data + b->len - used - 4, used);
}

int
sftp_enc_setstat(struct buf *b, uint32_t id, const char *path,
    const struct sftp_attrs *a)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_SETSTAT, id);
	enc_cstr(&e, path);
	enc_attrs(&e, a);
	return pkt_end(&e);
}

int
sftp_enc_fsetstat(struct buf *b, uint32_t id, const struct sftp_handle *h,
    const struct sftp_attrs *a)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_FSETSTAT, id);
	enc_handle(&e, h);
	enc_attrs(&e, a);
	return pkt_end(&e);
}

int
sftp_enc_mkdir(struct buf *b, uint32_t id, const char *path,
    const struct sftp_attrs *a)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_MKDIR, id);
	enc_cstr(&e, path);
	enc_attrs(&e, a);
	return pkt_end(&e);
}

int
sftp_enc_rename(struct buf *b, uint32_t id, const char *from, const char *to)
{
	struct enc	 e;

	pkt_start_id(&e, b, SSH_FXP_RENAME, id);
	enc_cstr(&e, from);
	enc_cstr(&e, to);
	return pkt_end(&e);
}

int
sftp_enc_symlink(struct buf *b, uint32_t id, const char *linkpath,
    const char *target, bool openssh_order)
{
	struct enc	 e;

	/* The draft (section 6.10) sends linkpath, then targetpath; OpenSSH's
	 * sftp-server reads them the other way round (PROTOCOL 4.1). */
	pkt_start_id(&e, b, SSH_FXP_SYMLINK, id);
	if (openssh_order) {
		enc_cstr(&e, target);
		enc_cstr(&e, linkpath);
	} else {
		enc_cstr(&e, linkpath);
		enc_cstr(&e, target);
	}
	return pkt_end(&e);
}

int
sftp_enc_posix_rename(struct buf *b, uint32_t id, const char *from,
    const char *to)
{
	struct enc	 e;

	pkt_start_ext(&e, b, id, "posix-rename@openssh.com");
	enc_cstr(&e, from);
	enc_cstr(&e, to);
	return pkt_end(&e);
}

int
sftp_enc_hardlink(struct buf *b, uint32_t id, const char *oldpath,
    const char *newpath)
{
	struct enc	 e;

	pkt_start_ext(&e, b, id, "hardlink@openssh.com");
	enc_cstr(&e, oldpath);
	enc_cstr(&e, newpath);
	return pkt_end(&e);
}

int
sftp_enc_fsync(struct buf *b, uint32_t id, const struct sftp_handle *h)
{
	struct enc	 e;

	pkt_start_ext(&e, b, id, "fsync@openssh.com");
	enc_handle(&e, h);
	return pkt_end(&e);
}

int
sftp_enc_statvfs(struct buf *b, uint32_t id, const char *path)
{
	struct enc	 e;

	pkt_start_ext(&e, b, id, "statvfs@openssh.com");
	enc_cstr(&e, path);
	return pkt_end(&e);
}

int
sftp_enc_copy_data(struct buf *b, uint32_t id, const struct sftp_handle *from,
    uint64_t roff, uint64_t len, const struct sftp_handle *to, uint64_t woff)
{
	struct enc	 e;

	pkt_start_ext(&e, b, id, "copy-data");
	enc_handle(&e, from);
	enc_u64(&e, roff);
	enc_u64(&e, len);
	enc_handle(&e, to);
	enc_u64(&e, woff);
	return pkt_end(&e);
}

int
sftp_enc_limits(struct buf *b, uint32_t id)
{
	struct enc	 e;

	/* The request has no fields; the reply carries four uint64. */
	pkt_start_ext(&e, b, id, "limits@openssh.com");
	return pkt_end(&e);
}

int
sftp_enc_attrs(struct buf *b, const struct sftp_attrs *a)
{
	struct enc	 e;

	enc_start(&e, b);
	enc_attrs(&e, a);
	if (e.failed) {
		b->len = e.start;
		return -1;
	}
	return 0;
}

/*
 * Decoding.  A reader holds the bytes not yet read; each read checks that
 * enough are left first and returns false, consuming nothing, when not.
 */
struct rd {
	const uint8_t	*p;
	size_t		 left;
};

static void
rd_init(struct rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->left = p != NULL ? len : 0;
}

static void
rd_skip(struct rd *r, size_t n)
{
	assert(n <= r->left);
	if (n != 0) {		/* never offset a NULL pointer, even by 0 */
		r->p += n;
		r->left -= n;
	}
}

static bool
rd_u8(struct rd *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	rd_skip(r, 1);
	return true;
}

static bool
rd_u32(struct rd *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = get_u32(r->p);
	rd_skip(r, 4);
	return true;
}

static bool
rd_u64(struct rd *r, uint64_t *v)
{
	if (r->left < 8)
		return false;
	*v = get_u64(r->p);
	rd_skip(r, 8);
	return true;
}

/* An SSH string: *s points into the packet, *n bytes long. */
static bool
rd_str(struct rd *r, const uint8_t **s, uint32_t *n)
{
	uint32_t	 len;

	if (r->left < 4 || (len = get_u32(r->p)) > r->left - 4)
		return false;
	rd_skip(r, 4);
	*s = r->p;
	*n = len;
	rd_skip(r, len);
	return true;
}

/* Attributes (draft section 5).  Extended pairs (type, data) are skipped:
 * v3 defines none we use, and the decoded flags never carry EXTENDED.  A
 * flag bit v3 does not define is "a protocol error" (section 5), and its
 * field's size is unknown, so nothing after it could be trusted anyway.
 * Returns 0 or TS_EREMOTE; what names the packet in the message. */
static int
rd_attrs(struct rd *r, struct sftp_attrs *a, const char *what,
    struct ts_error *err)
{
	uint32_t	 flags, count, i, n;
	const uint8_t	*s;

	memset(a, 0, sizeof(*a));
	if (!rd_u32(r, &flags))
		goto truncated;
	if (flags & ~(ATTR_KNOWN | SSH_FILEXFER_ATTR_EXTENDED))
		return error_set(err, TS_EREMOTE, MALFORMED
		    "attribute flags 0x%x in %s", flags, what);
	if ((flags & SSH_FILEXFER_ATTR_SIZE) && !rd_u64(r, &a->size))
		goto truncated;
	if ((flags & SSH_FILEXFER_ATTR_UIDGID) &&
	    (!rd_u32(r, &a->uid) || !rd_u32(r, &a->gid)))
		goto truncated;
	if ((flags & SSH_FILEXFER_ATTR_PERMISSIONS) && !rd_u32(r, &a->perm))
		goto truncated;
	if ((flags & SSH_FILEXFER_ATTR_ACMODTIME) &&
	    (!rd_u32(r, &a->atime) || !rd_u32(r, &a->mtime)))
		goto truncated;
	if (flags & SSH_FILEXFER_ATTR_EXTENDED) {
		if (!rd_u32(r, &count))
			goto truncated;
		/* Refuse a count the bytes cannot hold before looping on it. */
		if (count > r->left / EXT_PAIR_MIN)
			return error_set(err, TS_EREMOTE, MALFORMED
			    "%u extended attributes in %zu bytes of %s",
			    count, r->left, what);
		for (i = 0; i < count; i++)
			if (!rd_str(r, &s, &n) || !rd_str(r, &s, &n))
				goto truncated;
	}
	a->flags = flags & ATTR_KNOWN;
	return 0;
truncated:
	return error_set(err, TS_EREMOTE, MALFORMED
	    "truncated attributes in %s", what);
}

int
sftp_frame(const uint8_t *p, size_t avail, size_t max, uint32_t *len,
    struct ts_error *err)
{
	uint32_t	 n;

	*len = 0;
	if (avail < 4)
		return 0;
	/* Check the length before waiting for the body: a huge length must
	 * fail now, not after we buffered up to it. */
	n = get_u32(p);
	if (n == 0)
		return error_set(err, TS_EREMOTE, MALFORMED "zero length");
	if (n > max)
		return error_set(err, TS_EREMOTE, "SFTP packet of %u bytes "
		    "from the server exceeds the limit of %zu", n, max);
	if (avail - 4 < n)
		return 0;
	*len = n;
	return 1;
}

int
sftp_dec_version(uint32_t *version, struct sftp_ext_iter *exts,
    const uint8_t *pkt, size_t len, struct ts_error *err)
{
	struct rd	 r;
	uint8_t		 type;

	*version = 0;
	if (exts != NULL) {
		exts->p = NULL;
		exts->left = 0;
	}
	rd_init(&r, pkt, len);
	if (!rd_u8(&r, &type))
		return error_set(err, TS_EREMOTE, MALFORMED "empty");
	if (type != SSH_FXP_VERSION)
		return error_set(err, TS_EREMOTE, MALFORMED "type %u where "
		    "SSH_FXP_VERSION was expected", type);
	if (!rd_u32(&r, version))
		return error_set(err, TS_EREMOTE, MALFORMED
		    "truncated version");
	/* The rest is extension pairs (section 4), read by sftp_ext_next. */
	if (exts != NULL) {
		exts->p = r.p;
		exts->left = r.left;
	}
	return 0;
}

int
sftp_ext_next(struct sftp_ext_iter *it, struct sftp_ext_pair *out,
    struct ts_error *err)
{
	struct rd	 r;
	const uint8_t	*name, *data;
	uint32_t	 name_len, data_len;

	rd_init(&r, it->p, it->left);
	if (r.left == 0)
		return 0;
	/* The iterator moves only past a whole pair: after an error it
	 * stays put and keeps failing. */
	if (!rd_str(&r, &name, &name_len) || !rd_str(&r, &data, &data_len))
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "extension in SSH_FXP_VERSION");
	out->name = (const char *)name;
	out->name_len = name_len;
	out->data = (const char *)data;
	out->data_len = data_len;
	it->p = r.p;
	it->left = r.left;
	return 1;
}

static int
dec_status(struct sftp_reply *out, struct rd *r, struct ts_error *err)
{
	const uint8_t	*msg, *lang;
	uint32_t	 msg_len, lang_len;

	if (!rd_u32(r, &out->status))
		goto truncated;
	/* The message and language tag came with version 3 (draft section
	 * 10.1) and some servers still send the code alone.  Callers fall
	 * back to sftp_status_str when msg is NULL. */
	if (r->left == 0)
		return 0;
	if (!rd_str(r, &msg, &msg_len))
		goto truncated;
	/* The language tag is never used: a server that leaves it out after
	 * the message costs nothing, so don't fail the request for it. */
	if (r->left != 0 && !rd_str(r, &lang, &lang_len))
		goto truncated;
	out->msg = (const char *)msg;
	out->msg_len = msg_len;
	return 0;
truncated:
	return error_set(err, TS_EREMOTE, MALFORMED "truncated SSH_FXP_STATUS");
}

static int
dec_handle(struct sftp_reply *out, struct rd *r, struct ts_error *err)
{
	const uint8_t	*h;
	uint32_t	 n;

	if (!rd_str(r, &h, &n))
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "SSH_FXP_HANDLE");
	/* Sections 6 and 7 cap handles at 256 bytes: we copy them. */
	if (n > SFTP_MAX_HANDLE)
		return error_set(err, TS_EREMOTE, MALFORMED
		    "handle of %u bytes, more than %d", n, SFTP_MAX_HANDLE);
	out->handle.len = n;
	if (n != 0)
		memcpy(out->handle.data, h, n);
	return 0;
}

static int
dec_data(struct sftp_reply *out, struct rd *r, struct ts_error *err)
{
	const uint8_t	*d;
	uint32_t	 n;

	if (!rd_str(r, &d, &n))
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "SSH_FXP_DATA");
	out->data = d;
	out->data_len = n;
	return 0;
}

static int
dec_name(struct sftp_reply *out, struct rd *r, struct ts_error *err)
{
	if (!rd_u32(r, &out->count))
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "SSH_FXP_NAME");
	/* Entries are checked one by one in sftp_name_next; here only that
	 * the count could fit, so nobody sizes anything from a bogus one. */
	if (out->count > r->left / NAME_ENTRY_MIN)
		return error_set(err, TS_EREMOTE, MALFORMED "%u names in %zu "
		    "bytes", out->count, r->left);
	out->names = r->p;
	out->names_len = r->left;
	return 0;
}

int
sftp_dec_reply(struct sftp_reply *out, const uint8_t *pkt, size_t len,
    struct ts_error *err)
{
	struct rd	 r;

	memset(out, 0, sizeof(*out));
	rd_init(&r, pkt, len);
	if (!rd_u8(&r, &out->type))
		return error_set(err, TS_EREMOTE, MALFORMED "empty");
	switch (out->type) {
	case SSH_FXP_STATUS:
	case SSH_FXP_HANDLE:
	case SSH_FXP_DATA:
	case SSH_FXP_NAME:
	case SSH_FXP_ATTRS:
	case SSH_FXP_EXTENDED_REPLY:
		break;
	default:		/* VERSION, a request, or nothing we know */
		return error_set(err, TS_EREMOTE, MALFORMED
		    "unexpected type %u", out->type);
	}
	if (!rd_u32(&r, &out->id))
		return error_set(err, TS_EREMOTE, MALFORMED "truncated request "
		    "id");
	switch (out->type) {
	case SSH_FXP_STATUS:
		return dec_status(out, &r, err);
	case SSH_FXP_HANDLE:
		return dec_handle(out, &r, err);
	case SSH_FXP_DATA:
		return dec_data(out, &r, err);
	case SSH_FXP_NAME:
		return dec_name(out, &r, err);
	case SSH_FXP_ATTRS:
		return rd_attrs(&r, &out->attrs, "SSH_FXP_ATTRS", err);
	default:		/* SSH_FXP_EXTENDED_REPLY: the request says */
		out->ext = r.p;
		out->ext_len = r.left;
		return 0;
	}
}

void
sftp_name_iter_init(struct sftp_name_iter *it, const struct sftp_reply *r)
{
	if (r->type != SSH_FXP_NAME) {
		it->p = NULL;
		it->left = 0;
		it->count = 0;
		return;
	}
	it->p = r->names;
	it->left = r->names_len;
	it->count = r->count;
}

int
sftp_name_next(struct sftp_name_iter *it, struct sftp_name *out,
    struct ts_error *err)
{
	struct rd	 r;
	const uint8_t	*name, *longname;
	uint32_t	 name_len, longname_len;
	int		 rc;

	if (it->count == 0)
		return 0;
	/* Each entry (draft section 7): filename, longname, attrs.  The
	 * iterator moves only past a whole entry, so it keeps failing. */
	rd_init(&r, it->p, it->left);
	if (!rd_str(&r, &name, &name_len) ||
	    !rd_str(&r, &longname, &longname_len))
		return error_set(err, TS_EREMOTE, MALFORMED
		    "truncated entry in SSH_FXP_NAME");
	if ((rc = rd_attrs(&r, &out->attrs, "SSH_FXP_NAME", err)) != 0)
		return rc;
	out->name = (const char *)name;
	out->name_len = name_len;
	out->longname = (const char *)longname;
	out->longname_len = longname_len;
	it->p = r.p;
	it->left = r.left;
	it->count--;
	return 1;
}

int
sftp_dec_limits(struct sftp_limits *out, const uint8_t *ext, size_t len,
    struct ts_error *err)
{
	struct rd	 r;

	memset(out, 0, sizeof(*out));
	rd_init(&r, ext, len);
	/* Four uint64 in this order (PROTOCOL section 4, limits@openssh.com);
	 * a later version of the extension may append more, so extra bytes
	 * are fine. */
	if (r.left < LIMITS_LEN)
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "limits@openssh.com reply");
	rd_u64(&r, &out->max_packet_len);
	rd_u64(&r, &out->max_read_len);
	rd_u64(&r, &out->max_write_len);
	rd_u64(&r, &out->max_open_handles);
	return 0;
}

int
sftp_dec_statvfs(struct sftp_statvfs *out, const uint8_t *ext, size_t len,
    struct ts_error *err)
{
	struct rd	 r;

	memset(out, 0, sizeof(*out));
	rd_init(&r, ext, len);
	/* Eleven uint64 in struct statvfs order (PROTOCOL 4.4). */
	if (r.left < STATVFS_LEN)
		return error_set(err, TS_EREMOTE, MALFORMED "truncated "
		    "statvfs@openssh.com reply");
	rd_u64(&r, &out->bsize);
	rd_u64(&r, &out->frsize);
	rd_u64(&r, &out->blocks);
	rd_u64(&r, &out->bfree);
	rd_u64(&r, &out->bavail);
	rd_u64(&r, &out->files);
	rd_u64(&r, &out->ffree);
	rd_u64(&r, &out->favail);
	rd_u64(&r, &out->fsid);
	rd_u64(&r, &out->flag);
	rd_u64(&r, &out->namemax);
	return 0;
}

const char *
sftp_status_str(uint32_t status)
{
	/* Static strings only: callers on any thread keep the pointer. */
	switch (status) {
	case SSH_FX_OK:
		return "success";
	case SSH_FX_EOF:
		return "end of file";
	case SSH_FX_NO_SUCH_FILE:
		return "no such file";
	case SSH_FX_PERMISSION_DENIED:
		return "permission denied";
	case SSH_FX_FAILURE:
		return "failure";
	case SSH_FX_BAD_MESSAGE:
		return "bad message";
	case SSH_FX_NO_CONNECTION:
		return "no connection";
	case SSH_FX_CONNECTION_LOST:
		return "connection lost";
	case SSH_FX_OP_UNSUPPORTED:
		return "operation unsupported";
	default:
		return "unknown error";
	}
}
