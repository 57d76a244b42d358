# One definition of the numbers the decoder, the segment scanner and the memory model share.
# Their names, for Python, are in insightkit/rdb/kinds.py, indexed by these values; _rows.pyx checks
# at import that each constant here lands on its name there (kinds.check_enum).
# Enums, not DEF (deprecated in Cython 3): constants the C compiler sees, free at run time.

# The `type` column's built-in labels (kinds.TYPE_NAMES); module keys are labelled at runtime.
cdef enum TypeLabel:
    T_STRING = 0
    T_LIST = 1
    T_SET = 2
    T_ZSET = 3
    T_HASH = 4
    T_STREAM = 5
    T_ARRAY = 6
    T_GCRA = 7
    N_TYPE_LABELS = 8

# Logical kinds for the memory model (kinds.KIND_NAMES): TYPE up to streams, then modules.
cdef enum Kind:
    KIND_STRING = 0
    KIND_LIST = 1
    KIND_SET = 2
    KIND_ZSET = 3
    KIND_HASH = 4
    KIND_STREAM = 5
    KIND_MODULE = 6
    KIND_ARRAY = 7           # Redis >= 8.8 (RDB type 28)
    KIND_GCRA = 8            # rate-limiter state (RDB type 33; compiled out of GA builds)
    N_KINDS = 9

# In-memory encodings (OBJECT ENCODING; kinds.ENCODING_NAMES, and kinds.ENCODING_LABELS for the column).
cdef enum Encoding:
    ENC_RAW = 0
    ENC_INT = 1
    ENC_EMBSTR = 2
    ENC_HASHTABLE = 3
    ENC_LINKEDLIST = 4
    ENC_ZIPLIST = 5
    ENC_LISTPACK = 6
    ENC_LISTPACKEX = 7
    ENC_INTSET = 8
    ENC_ZIPMAP = 9
    ENC_QUICKLIST = 10
    ENC_SKIPLIST = 11
    ENC_STREAM = 12
    ENC_MODULE = 13          # KeyFacts only; the column says "raw" as OBJECT ENCODING does
    ENC_SLICED_ARRAY = 14    # arrays (OBJ_ENCODING_SLICED_ARRAY)
    ENC_TMPL_LP = 15         # hashes backed by a shared template, values in a listpack (Redis >= 8.10)
    ENC_TMPL_ARRAY = 16      # ... values in an array of sds
    N_ENCODING_LABELS = 17

# Decoder.parse() results (the reader's loop switches on them; see reader.py).
cdef enum Status:
    ST_NEED_MORE = 0
    ST_BATCH_FULL = 1
    ST_DONE = 2
    ST_SEGMENT = 3           # a run of keys was delimited: take_segment() hands it to a segment decoder
    ST_FLUSH = 4             # the lead is about to decode a key itself: close the open segment batch first
    ST_BARRIER = 5           # a hash template is declared after segments were handed out: let them finish

# Segment scan results (the lengths-only scanner, _scan.pyx).
cdef enum ScanStatus:
    SK_OK = 0                # the item is whole and of a kind segment decoders handle
    SK_SHORT = 1             # the item continues past the buffered bytes
    SK_STOP = 2              # not a key (aux, db switch, EOF …), a module key, or a malformed length: the lead decides

# What a compressed blob holds (_values_blobs._blob_str): its header is inflated and checked first.
cdef enum BlobHeader:
    BLOB_ANY = 0             # no header to check (zipmap, plain quicklist node)
    BLOB_ZIPLIST = 1         # zlbytes u32, zltail u32, zllen u16
    BLOB_LISTPACK = 2        # total bytes u32, count u16
    BLOB_INTSET = 3          # encoding (width) u32, length u32
    BLOB_STREAM_ID = 4       # a stream node's 16-byte master ID
    BLOB_STREAM_LP = 5       # a stream node's listpack: its total bytes (the entry count is not checked)

# RDB opcodes (the byte before an item; key types are the values below 0xF2 but 107).
cdef enum Opcode:
    OP_HASH_TEMPLATE = 242  # RDB 15 (Redis 8.10): a hash template's sorted field names
    OP_SLOT_IMPORT = 243  # Valkey 9 (and any file before RDB 13): a slot import job
    OP_KEY_META = 243  # RDB >= 13 (REDIS magic): module key metadata, before the key's type byte
    OP_SLOT_INFO = 244
    OP_FUNCTION2 = 245
    OP_FUNCTION_PRE_GA = 246
    OP_MODULE_AUX = 247
    OP_IDLE = 248
    OP_FREQ = 249
    OP_AUX = 250
    OP_RESIZEDB = 251
    OP_EXPIRETIME_MS = 252
    OP_EXPIRETIME = 253
    OP_SELECTDB = 254
    OP_EOF = 255
    OP_RAM_LRU = 107  # Redis Enterprise: LRU hint, one length; ignored (no-op for the key table)

# Format limits.
cdef enum FormatLimit:
    NEWEST_RDB = 15  # the newest format this decoder knows (Redis 8.10)
    NEWEST_VALKEY_RDB = 80  # Valkey 9's VALKEY080
    KEY_META_MAX_CLASSES = 7
    MAX_TEMPLATES = 4194304  # 4M hash templates (~300 MB of table); a saver writes one per distinct field set
