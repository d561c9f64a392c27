import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One published index file: its bytes and the HTTP validators to serve it with.
public struct PublishedFile: Sendable {
    public let bytes: Data
    /// A strong, quoted entity tag: `"` + the first 32 hex digits of the SHA-256 of ``bytes`` + `"`.
    public let etag: String
    /// `application/json`, `application/zstd` or `application/x-bzip2`. Never serve `.zst`/`.bz2` with a
    /// `Content-Encoding`: clients decode those files themselves.
    public let contentType: String
    public let lastModified: Date

    public init(bytes: Data, contentType: String, lastModified: Date) {
        self.bytes = bytes
        self.etag = Self.etag(for: bytes)
        self.contentType = contentType
        self.lastModified = lastModified
    }

    /// A file whose SHA-256 the caller has already computed (a shard, named by that hash); the ETag is the same as
    /// ``init(bytes:contentType:lastModified:)`` would give.
    init(bytes: Data, sha256: [UInt8], contentType: String, lastModified: Date) {
        self.bytes = bytes
        self.etag = Self.etag(digest: sha256)
        self.contentType = contentType
        self.lastModified = lastModified
    }

    /// The same file with `bytes` as its storage: the caller passes the same bytes in another allocation (e.g. a
    /// view of the buffer they are served from), so the ETag is kept, not computed again.
    /// - Precondition: `bytes` equals ``bytes`` (only the count is checked).
    public func sharing(_ bytes: Data) -> PublishedFile {
        precondition(bytes.count == self.bytes.count, "PublishedFile.sharing: different bytes")
        return PublishedFile(bytes: bytes, etag: etag, contentType: contentType, lastModified: lastModified)
    }

    private init(bytes: Data, etag: String, contentType: String, lastModified: Date) {
        self.bytes = bytes
        self.etag = etag
        self.contentType = contentType
        self.lastModified = lastModified
    }

    /// The strong ETag for `bytes`: `"<first 32 hex digits of sha256>"`.
    public static func etag(for bytes: Data) -> String {
        etag(digest: SHA256.hash(data: bytes))
    }

    private static func etag(digest: some Sequence<UInt8>) -> String {
        var hex = ""
        hex.reserveCapacity(34)
        hex.append("\"")
        for byte in digest.prefix(16) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0F)])
        }
        hex.append("\"")
        return hex
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")
}

/// Every index file of one subdir, built at one moment from one record list, ready to serve without touching the
/// database: `repodata.json`, `current_repodata.json` and their `.zst` and `.bz2` variants, the CEP 16 shard index
/// and shards, plus the records by file name for package lookups.
public struct SubdirSnapshot: Sendable {
    public let subdir: String
    public let builtAt: Date
    /// File name → record, for answering package requests without a database query.
    public let records: [String: PackageRecord]
    /// File name (`repodata.json`, `repodata.json.zst`, `repodata.json.bz2`, `current_repodata.json`,
    /// `current_repodata.json.zst`, `current_repodata.json.bz2`, `repodata_shards.msgpack.zst`) → published file.
    public let files: [String: PublishedFile]
    /// CEP 16 shards by file name (`<lowercase hex sha256 of the bytes>.msgpack.zst`), served at
    /// `<subdir>/shards/<file name>` (the index's `shards_base_url` is `shards/`). Content-addressed: serve with
    /// `Cache-Control: public, max-age=31536000, immutable`.
    public let shards: [String: PublishedFile]
    /// Package name → its shard and the shard's cache key; pass it (or the whole snapshot) to the next build so that
    /// names whose records did not change keep their compressed shard.
    public let shardEntries: [String: ShardEntry]
    /// File name → where the record's JSON value lies in `files["repodata.json"]`: the next build copies those bytes
    /// for every record that did not change instead of serializing it again.
    let recordRanges: [String: Range<Int>]
    /// The zstd level the shards were compressed at: a build at another level compresses every shard again, so that
    /// it gives the same bytes as a build without a previous snapshot.
    let shardZstdLevel: Int32?

    /// Creates a snapshot from parts (``build(subdir:records:builtAt:zstdLevel:shardZstdLevel:previous:largeInputSize:bzip2MaximumInputSize:)``
    /// is the usual way); a snapshot made here gives the next build nothing to copy.
    public init(
        subdir: String, builtAt: Date, records: [String: PackageRecord], files: [String: PublishedFile],
        shards: [String: PublishedFile] = [:], shardEntries: [String: ShardEntry] = [:]
    ) {
        self.init(
            subdir: subdir, builtAt: builtAt, records: records, files: files, shards: shards,
            shardEntries: shardEntries, recordRanges: [:], shardZstdLevel: nil)
    }

    init(
        subdir: String, builtAt: Date, records: [String: PackageRecord], files: [String: PublishedFile],
        shards: [String: PublishedFile], shardEntries: [String: ShardEntry], recordRanges: [String: Range<Int>],
        shardZstdLevel: Int32?
    ) {
        self.shardZstdLevel = shardZstdLevel
        self.subdir = subdir
        self.builtAt = builtAt
        self.records = records
        self.files = files
        self.shards = shards
        self.shardEntries = shardEntries
        self.recordRanges = recordRanges
    }

    /// This snapshot with other files and shards (the same bytes in other storage, e.g. shared with the buffers they
    /// are served from), keeping everything the next build reuses. Each ``shardEntries`` value whose shard is in
    /// `shards` takes that file too; pass empty dictionaries to release the documents' storage held by this copy.
    public func replacingFiles(
        _ files: [String: PublishedFile], shards: [String: PublishedFile]
    ) -> SubdirSnapshot {
        var entries = shardEntries
        if !shards.isEmpty {
            for (name, entry) in shardEntries {
                guard let file = shards[entry.fileName] else { continue }
                entries[name] = ShardEntry(
                    name: entry.name, sha256: entry.sha256, fileName: entry.fileName,
                    contentDigest: entry.contentDigest, recordCount: entry.recordCount, file: file)
            }
        }
        return SubdirSnapshot(
            subdir: subdir, builtAt: builtAt, records: records, files: files, shards: shards,
            shardEntries: entries, recordRanges: recordRanges, shardZstdLevel: shardZstdLevel)
    }

    /// What the next build may copy from this snapshot, if it keeps the record ranges.
    var recordReuse: RecordJSONReuse? {
        guard !recordRanges.isEmpty, let document = files["repodata.json"]?.bytes else { return nil }
        return RecordJSONReuse(document: document, ranges: recordRanges, records: records)
    }

    /// Documents larger than this (bytes) are zstd-compressed at ``largeInputZstdLevel`` with two worker threads
    /// instead of the configured level: level 16 on conda-forge's 200 MB linux-64 takes close to a minute on one
    /// core, level 3 under a second (for a file about 16 % larger). Default 16 MiB.
    public static let largeInputSize = 16 << 20
    /// The zstd level used for documents over ``largeInputSize``, and for the shards of a subdir whose
    /// `repodata.json` is over it.
    public static let largeInputZstdLevel: Int32 = 3
    /// `.bz2` variants are published only for documents up to this size (bytes): bzip2 runs at about 12 MB/s, and
    /// only rattler ever downloads `.bz2`, after a `HEAD` shows that `.zst` is missing — which never happens here,
    /// since `.zst` is always published. Larger subdirs answer 404 for `.bz2`, which every client handles (CEP 36
    /// deprecates the format). Default 64 MiB.
    public static let bzip2MaximumInputSize = 64 << 20

    /// The file names a snapshot holds in ``files`` (the `.bz2` ones only up to ``bzip2MaximumInputSize``).
    public static let fileNames = [
        "repodata.json", "repodata.json.zst", "repodata.json.bz2",
        "current_repodata.json", "current_repodata.json.zst", "current_repodata.json.bz2",
        ShardsBuilder.indexFileName,
    ]

    /// Builds all index files of `subdir` from `records`: `repodata.json` (written in parallel chunks), then in
    /// parallel `current_repodata.json`, the compressed forms (zstd at `zstdLevel`, bzip2 at level 9) and the CEP 16
    /// shards (see ``ShardsBuilder``; zstd at `shardZstdLevel`). An empty record list gives the minimal valid repodata
    /// and a shard index with no shards.
    ///
    /// - Parameter previous: the last snapshot of the same subdir, if any. Its work is reused wherever the records
    ///   did not change: a record equal to the previous one is copied into `repodata.json` as the bytes it had there
    ///   (not serialized again), a name whose records are all unchanged keeps its shard without encoding or
    ///   compressing it again, and an unchanged shard index keeps its `Last-Modified`. The result is byte for byte
    ///   the result of a build without `previous`.
    /// - Throws: `SluiceError` from the compressors (`internalError` if a codec fails).
    public static func build(
        subdir: String, records: [PackageRecord], builtAt: Date = Date(), zstdLevel: Int32 = 16,
        shardZstdLevel: Int32 = ShardsBuilder.defaultZstdLevel, previous: SubdirSnapshot? = nil,
        largeInputSize: Int = SubdirSnapshot.largeInputSize,
        bzip2MaximumInputSize: Int = SubdirSnapshot.bzip2MaximumInputSize, storage: DocumentStorage = .arrays
    ) throws(SluiceError) -> SubdirSnapshot {
        var byFilename: [String: PackageRecord] = Dictionary(minimumCapacity: records.count)
        var hasDuplicates = false
        for record in records where byFilename.updateValue(record, forKey: record.filename) != nil {
            hasDuplicates = true
        }
        let table = RecordTable(records: records, knownUnique: !hasDuplicates)

        let written = RepodataWriter.repodata(
            subdir: subdir, table: table, reuse: previous?.recordReuse, storage: storage)
        let repodata = written.data
        // The chunks the document was assembled from are freed, but glibc keeps their pages.
        if repodata.count > largeInputSize { releaseFreedMemory() }

        // current_repodata.json and its compressed forms, and the compressed forms of repodata.json, each on its own
        // worker, while this thread builds the shards in parallel chunks. (A concurrentPerform nested in another runs
        // serially, so the shards must not be one of several concurrentPerform iterations.)
        let compressed = ParallelSlots<Data>(count: 4)  // repodata zst, repodata bz2, current zst, current bz2
        let currentSlot = ParallelSlots<Data>(count: 1)
        let compress: @Sendable (Data, Bool) throws(SluiceError) -> Data = { input, zstd in
            if zstd {
                let isLarge = input.count > largeInputSize
                return try Zstd.compress(
                    input, level: isLarge ? min(zstdLevel, largeInputZstdLevel) : zstdLevel, workers: isLarge ? 2 : 0)
            }
            // Not published above the limit; see bzip2MaximumInputSize.
            return input.count > bzip2MaximumInputSize ? Data() : try Bzip2.compress(input)
        }
        let shared = UncheckedSendable((table, written))
        let workers = DispatchGroup()
        DispatchQueue.global().async(group: workers) {
            do throws(SluiceError) {
                compressed.set(0, .success(try compress(repodata, true)))
                compressed.set(1, .success(try compress(repodata, false)))
            } catch {
                compressed.set(0, .failure(error))
                compressed.set(1, .failure(error))
            }
        }
        DispatchQueue.global().async(group: workers) {
            do throws(SluiceError) {
                let (table, written) = shared.value
                let current = RepodataBuilder.currentRepodata(
                    subdir: subdir, table: table, repodata: written, storage: storage)
                currentSlot.set(0, .success(current))
                compressed.set(2, .success(try compress(current, true)))
                compressed.set(3, .success(try compress(current, false)))
            } catch {
                currentSlot.set(0, .failure(error))
                compressed.set(2, .failure(error))
                compressed.set(3, .failure(error))
            }
        }
        // Thousands of shards of a large subdir are compressed at the fast level too.
        let shardLevel = repodata.count > largeInputSize ? min(shardZstdLevel, largeInputZstdLevel) : shardZstdLevel
        let reusable = previous.map { $0.shardZstdLevel == nil || $0.shardZstdLevel == shardLevel } ?? false
        let shardsResult = Result { () throws(SluiceError) -> RepodataShards in
            try ShardsBuilder.build(
                subdir: subdir, table: table, builtAt: builtAt, createdAt: nil, zstdLevel: shardLevel,
                previous: reusable ? previous?.shardEntries ?? [:] : [:],
                previousRecords: reusable ? previous?.records ?? [:] : [:])
        }
        workers.wait()
        let shards = try shardsResult.get()
        let current = try currentSlot.get(0)
        // An unchanged index keeps its Last-Modified as well as its ETag.
        var shardIndex = shards.index
        if let old = previous?.files[ShardsBuilder.indexFileName], old.bytes == shardIndex.bytes {
            shardIndex = old
        }

        let json = "application/json"
        let zstd = "application/zstd"
        let bzip2 = "application/x-bzip2"
        var files: [String: PublishedFile] = [
            "repodata.json": PublishedFile(bytes: repodata, contentType: json, lastModified: builtAt),
            "repodata.json.zst": PublishedFile(bytes: try compressed.get(0), contentType: zstd, lastModified: builtAt),
            "current_repodata.json": PublishedFile(bytes: current, contentType: json, lastModified: builtAt),
            "current_repodata.json.zst": PublishedFile(
                bytes: try compressed.get(2), contentType: zstd, lastModified: builtAt),
            ShardsBuilder.indexFileName: shardIndex,
        ]
        if repodata.count <= bzip2MaximumInputSize {
            files["repodata.json.bz2"] = PublishedFile(
                bytes: try compressed.get(1), contentType: bzip2, lastModified: builtAt)
        }
        if current.count <= bzip2MaximumInputSize {
            files["current_repodata.json.bz2"] = PublishedFile(
                bytes: try compressed.get(3), contentType: bzip2, lastModified: builtAt)
        }
        var recordRanges: [String: Range<Int>] = Dictionary(minimumCapacity: table.records.count)
        for (index, record) in table.records.enumerated() {
            recordRanges[record.filename] = written.valueRanges[index]
        }
        return SubdirSnapshot(
            subdir: subdir, builtAt: builtAt, records: byFilename, files: files, shards: shards.files,
            shardEntries: shards.entries, recordRanges: recordRanges, shardZstdLevel: shardLevel)
    }

    /// Returns the heap's free pages to the system (glibc keeps freed memory of its arenas resident otherwise). Call
    /// it after freeing large temporaries, e.g. after a large build: peak RSS is what a refresh is limited by.
    public static func releaseFreedMemory() {
        #if canImport(Glibc)
        _ = mallocTrim?(0)
        #endif
    }

    #if canImport(Glibc)
    /// glibc's `malloc_trim` (not exported by the `Glibc` module), looked up once; nil if the libc has none.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif

    /// `bytes` as `Data` without copying them: the array's buffer is kept alive by the `Data` and never written.
    static func noCopyData(_ bytes: [UInt8]) -> Data {
        guard !bytes.isEmpty else { return Data() }
        let owner = bytes
        return bytes.withUnsafeBytes { buffer in
            Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: buffer.baseAddress!), count: buffer.count,
                deallocator: .custom { _, _ in withExtendedLifetime(owner) {} })
        }
    }
}

/// Where `repodata.json` and `current_repodata.json` are written: the caller can have them written straight into
/// the buffers it serves them from, so that a 200 MB document is never copied (nor held twice) after it is built.
public struct DocumentStorage: Sendable {
    /// Returns `count` bytes as `Data` after `fill` has written all of them into the storage's memory.
    let make: @Sendable (_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Data

    /// A storage that allocates memory of exactly `count` bytes, has `fill` write it and returns it as `Data`
    /// (without copying it: the `Data` must own or keep alive the memory).
    public init(_ make: @escaping @Sendable (_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Data) {
        self.make = make
    }

    /// Each document in its own array, viewed as `Data` without a copy.
    public static let arrays = DocumentStorage { count, fill in
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
        return SubdirSnapshot.noCopyData(bytes)
    }
}

/// Fixed-size result slots written from `DispatchQueue.concurrentPerform` iterations.
final class ParallelSlots<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, SluiceError>?]
    /// The number of slots.
    let count: Int

    init(count: Int) {
        self.count = count
        slots = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ result: Result<Value, SluiceError>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func get(_ index: Int) throws(SluiceError) -> Value {
        lock.lock()
        let slot = slots[index]
        lock.unlock()
        guard let slot else { throw SluiceError(.internalError, "A parallel index build step produced no result.") }
        return try slot.get()
    }
}
