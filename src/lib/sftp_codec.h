/*
 * SFTP version 3 packets (draft-ietf-secsh-filexfer-02) and the OpenSSH
 * extensions (OpenSSH PROTOCOL, section 4).  Pure: no I/O, no clock.
 *
 * Encoders append one whole packet, length prefix included, to a buf and
 * return 0, or -1 when the buf would pass its maximum (nothing appended).
 * Decoders read one packet without its length prefix, starting at the type
 * byte; they return 0, or TS_EREMOTE with err set when the packet is
 * malformed or truncated.  Decoded strings point into the packet.
 */
#ifndef TS_SFTP_CODEC_H
#define TS_SFTP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "treesync.h"

#define SFTP_VERSION		3
/* The largest packet we accept from a server.  Our READs ask for at most
 * 256 KiB and servers batch directory entries well below this; anything
 * larger is a protocol error, never an allocation. */
#define SFTP_MAX_PACKET		(1024 * 1024)
#define SFTP_MAX_HANDLE		256	/* section 3: handles are at most 256 */

enum sftp_type {
	SSH_FXP_INIT = 1, SSH_FXP_VERSION = 2, SSH_FXP_OPEN = 3,
	SSH_FXP_CLOSE = 4, SSH_FXP_READ = 5, SSH_FXP_WRITE = 6,
	SSH_FXP_LSTAT = 7, SSH_FXP_FSTAT = 8, SSH_FXP_SETSTAT = 9,
	SSH_FXP_FSETSTAT = 10, SSH_FXP_OPENDIR = 11, SSH_FXP_READDIR = 12,
	SSH_FXP_REMOVE = 13, SSH_FXP_MKDIR = 14, SSH_FXP_RMDIR = 15,
	SSH_FXP_REALPATH = 16, SSH_FXP_STAT = 17, SSH_FXP_RENAME = 18,
	SSH_FXP_READLINK = 19, SSH_FXP_SYMLINK = 20,
	SSH_FXP_STATUS = 101, SSH_FXP_HANDLE = 102, SSH_FXP_DATA = 103,
	SSH_FXP_NAME = 104, SSH_FXP_ATTRS = 105,
	SSH_FXP_EXTENDED = 200, SSH_FXP_EXTENDED_REPLY = 201,
};

enum sftp_status {
	SSH_FX_OK = 0, SSH_FX_EOF = 1, SSH_FX_NO_SUCH_FILE = 2,
	SSH_FX_PERMISSION_DENIED = 3, SSH_FX_FAILURE = 4,
	SSH_FX_BAD_MESSAGE = 5, SSH_FX_NO_CONNECTION = 6,
	SSH_FX_CONNECTION_LOST = 7, SSH_FX_OP_UNSUPPORTED = 8,
};

/* pflags of SSH_FXP_OPEN */
#define SSH_FXF_READ		0x01
#define SSH_FXF_WRITE		0x02
#define SSH_FXF_APPEND		0x04
#define SSH_FXF_CREAT		0x08
#define SSH_FXF_TRUNC		0x10
#define SSH_FXF_EXCL		0x20

/* attribute flags */
#define SSH_FILEXFER_ATTR_SIZE		0x00000001
#define SSH_FILEXFER_ATTR_UIDGID	0x00000002
#define SSH_FILEXFER_ATTR_PERMISSIONS	0x00000004
#define SSH_FILEXFER_ATTR_ACMODTIME	0x00000008
#define SSH_FILEXFER_ATTR_EXTENDED	0x80000000

struct sftp_attrs {
	uint32_t	 flags;		/* SSH_FILEXFER_ATTR_*; EXTENDED never set
					 * by the decoder (pairs are skipped) */
	uint64_t	 size;
	uint32_t	 uid, gid;
	uint32_t	 perm;		/* type and permission bits */
	uint32_t	 atime, mtime;
};

struct sftp_handle {
	uint32_t	 len;
	uint8_t		 data[SFTP_MAX_HANDLE];
};

/* A decoded reply.  Which fields hold something depends on type. */
struct sftp_reply {
	uint8_t		 type;		/* enum sftp_type */
	uint32_t	 id;
	/* SSH_FXP_STATUS */
	uint32_t	 status;	/* enum sftp_status */
	const char	*msg;		/* not NUL-terminated */
	size_t		 msg_len;
	/* SSH_FXP_HANDLE */
	struct sftp_handle handle;
	/* SSH_FXP_DATA */
	const uint8_t	*data;
	uint32_t	 data_len;
	/* SSH_FXP_NAME: count entries, read them with sftp_name_next() */
	uint32_t	 count;
	const uint8_t	*names;
	size_t		 names_len;
	/* SSH_FXP_ATTRS */
	struct sftp_attrs attrs;
	/* SSH_FXP_EXTENDED_REPLY: the bytes after the id */
	const uint8_t	*ext;
	size_t		 ext_len;
};

/* One entry of an SSH_FXP_NAME reply. */
struct sftp_name {
	const char	*name;		/* not NUL-terminated */
	size_t		 name_len;
	const char	*longname;	/* ls -l style line, not NUL-terminated */
	size_t		 longname_len;
	struct sftp_attrs attrs;
};

struct sftp_name_iter {
	const uint8_t	*p;
	size_t		 left;		/* bytes left */
	uint32_t	 count;		/* entries left */
};

/* An extension offered in SSH_FXP_VERSION. */
struct sftp_ext_pair {
	const char	*name;		/* not NUL-terminated */
	size_t		 name_len;
	const char	*data;
	size_t		 data_len;
};

struct sftp_ext_iter {
	const uint8_t	*p;
	size_t		 left;
};

/* limits@openssh.com reply; 0 means "no limit stated". */
struct sftp_limits {
	uint64_t	 max_packet_len;
	uint64_t	 max_read_len;
	uint64_t	 max_write_len;
	uint64_t	 max_open_handles;
};

/* statvfs@openssh.com reply */
struct sftp_statvfs {
	uint64_t	 bsize, frsize, blocks, bfree, bavail;
	uint64_t	 files, ffree, favail, fsid, flag, namemax;
};

/* Framing: with avail bytes at p, returns 1 and sets *len (the packet
 * length after the 4-byte prefix) when a whole packet is there, 0 when
 * more bytes are needed, TS_EREMOTE (err set) when the length is 0 or
 * larger than max. */
int	sftp_frame(const uint8_t *p, size_t avail, size_t max, uint32_t *len,
	    struct ts_error *err);

/* Requests.  Paths are NUL-terminated byte strings. */
int	sftp_enc_init(struct buf *b, uint32_t version);
int	sftp_enc_open(struct buf *b, uint32_t id, const char *path,
	    uint32_t pflags, const struct sftp_attrs *a);
/* SSH_FXP_CLOSE, SSH_FXP_FSTAT, SSH_FXP_READDIR: a handle only. */
int	sftp_enc_handle_op(struct buf *b, uint8_t type, uint32_t id,
	    const struct sftp_handle *h);
/* SSH_FXP_LSTAT, SSH_FXP_STAT, SSH_FXP_OPENDIR, SSH_FXP_REMOVE,
 * SSH_FXP_RMDIR, SSH_FXP_REALPATH, SSH_FXP_READLINK: a path only. */
int	sftp_enc_path_op(struct buf *b, uint8_t type, uint32_t id,
	    const char *path);
int	sftp_enc_read(struct buf *b, uint32_t id, const struct sftp_handle *h,
	    uint64_t offset, uint32_t len);
int	sftp_enc_write(struct buf *b, uint32_t id, const struct sftp_handle *h,
	    uint64_t offset, const void *data, uint32_t len);
/* A WRITE whose len data bytes are filled in after: returns where they
 * go (the buf's end), *start the packet's offset, or NULL when it does not
 * fit.  Then, if fewer were filled in, sftp_enc_write_shrink makes the
 * packet (still the buf's last) carry only those. */
uint8_t	*sftp_enc_write_room(struct buf *b, uint32_t id,
	    const struct sftp_handle *h, uint64_t offset, uint32_t len,
	    size_t *start);
void	sftp_enc_write_shrink(struct buf *b, size_t start, uint32_t len,
	    uint32_t used);
int	sftp_enc_setstat(struct buf *b, uint32_t id, const char *path,
	    const struct sftp_attrs *a);
int	sftp_enc_fsetstat(struct buf *b, uint32_t id,
	    const struct sftp_handle *h, const struct sftp_attrs *a);
int	sftp_enc_mkdir(struct buf *b, uint32_t id, const char *path,
	    const struct sftp_attrs *a);
int	sftp_enc_rename(struct buf *b, uint32_t id, const char *from,
	    const char *to);
/* Makes linkpath a symlink to target.  OpenSSH's server takes the two
 * strings in the opposite order to the draft (PROTOCOL, section 4.1):
 * openssh_order says which order to send. */
int	sftp_enc_symlink(struct buf *b, uint32_t id, const char *linkpath,
	    const char *target, bool openssh_order);
/* Extensions (SSH_FXP_EXTENDED with the request name). */
int	sftp_enc_posix_rename(struct buf *b, uint32_t id, const char *from,
	    const char *to);
int	sftp_enc_hardlink(struct buf *b, uint32_t id, const char *oldpath,
	    const char *newpath);
int	sftp_enc_fsync(struct buf *b, uint32_t id, const struct sftp_handle *h);
int	sftp_enc_statvfs(struct buf *b, uint32_t id, const char *path);
/* copy-data (PROTOCOL 4.10): the server copies len bytes at roff of the
 * file open as from (len 0: to its end) to woff of the file open as to. */
int	sftp_enc_copy_data(struct buf *b, uint32_t id,
	    const struct sftp_handle *from, uint64_t roff, uint64_t len,
	    const struct sftp_handle *to, uint64_t woff);
int	sftp_enc_limits(struct buf *b, uint32_t id);

/* Attributes as they appear on the wire, for requests that carry them. */
int	sftp_enc_attrs(struct buf *b, const struct sftp_attrs *a);

/* Replies. */
int	sftp_dec_version(uint32_t *version, struct sftp_ext_iter *exts,
	    const uint8_t *pkt, size_t len, struct ts_error *err);
/* Returns 1 and fills *out while pairs remain, 0 at the end, TS_EREMOTE
 * when the list is malformed. */
int	sftp_ext_next(struct sftp_ext_iter *it, struct sftp_ext_pair *out,
	    struct ts_error *err);
/* Any reply with an id: STATUS, HANDLE, DATA, NAME, ATTRS,
 * EXTENDED_REPLY.  Other types are an error. */
int	sftp_dec_reply(struct sftp_reply *out, const uint8_t *pkt, size_t len,
	    struct ts_error *err);
void	sftp_name_iter_init(struct sftp_name_iter *it,
	    const struct sftp_reply *r);
/* Returns 1 with *out filled while entries remain, 0 at the end,
 * TS_EREMOTE when an entry is malformed. */
int	sftp_name_next(struct sftp_name_iter *it, struct sftp_name *out,
	    struct ts_error *err);
int	sftp_dec_limits(struct sftp_limits *out, const uint8_t *ext,
	    size_t len, struct ts_error *err);
int	sftp_dec_statvfs(struct sftp_statvfs *out, const uint8_t *ext,
	    size_t len, struct ts_error *err);

/* "no such file", "permission denied", ... for a status code. */
const char *sftp_status_str(uint32_t status);

#endif
