import Crypto
import Foundation

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

    public init(
        subdir: String, builtAt: Date, records: [String: PackageRecord], files: [String: PublishedFile],
        shards: [String: PublishedFile] = [:], shardEntries: [String: ShardEntry] = [:]
    ) {
        self.subdir = subdir
        self.builtAt = builtAt
        self.records = records
        self.files = files
        self.shards = shards
        self.shardEntries = shardEntries
    }

    /// Documents larger than this (bytes) are zstd-compressed at ``largeInputZstdLevel`` with two worker threads
    /// instead of the configured level: level 16 on conda-forge's 200 MB linux-64 takes close to a minute on one
    /// core, level 3 under a second (for a file about 16 % larger). Default 16 MiB.
    public static let largeInputSize = 16 << 20
    /// The zstd level used for documents over ``largeInputSize``.
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

    /// Builds all index files of `subdir` from `records`: the two JSON documents, then in parallel their four
    /// compressed forms (zstd at `zstdLevel`, bzip2 at level 9) and the CEP 16 shards (see ``ShardsBuilder``; zstd at
    /// `shardZstdLevel`). An empty record list gives the minimal valid repodata and a shard index with no shards.
    ///
    /// - Parameter previous: the last snapshot of the same subdir, if any: shards of names whose records did not
    ///   change are taken from it instead of being compressed again, and an unchanged shard index keeps its
    ///   `Last-Modified`.
    /// - Throws: `SluiceError` from the compressors (`internalError` if a codec fails).
    public static func build(
        subdir: String, records: [PackageRecord], builtAt: Date = Date(), zstdLevel: Int32 = 16,
        shardZstdLevel: Int32 = ShardsBuilder.defaultZstdLevel, previous: SubdirSnapshot? = nil,
        largeInputSize: Int = SubdirSnapshot.largeInputSize,
        bzip2MaximumInputSize: Int = SubdirSnapshot.bzip2MaximumInputSize
    ) throws(SluiceError) -> SubdirSnapshot {
        let unique = RepodataBuilder.unique(records)
        var byFilename: [String: PackageRecord] = [:]
        byFilename.reserveCapacity(unique.count)
        for record in unique { byFilename[record.filename] = record }

        let documents = ParallelSlots<Data>(count: 2)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let bytes =
                index == 0
                ? RepodataBuilder.write(subdir: subdir, records: unique, legacyMD5: nil)
                : RepodataBuilder.currentRepodata(subdir: subdir, records: unique)
            documents.set(index, .success(Data(bytes)))
        }
        let repodata = try documents.get(0)
        let current = try documents.get(1)

        // zstd of repodata, bzip2 of repodata, zstd of current, bzip2 of current; the shards alongside (they fill
        // the cores the short compressions leave idle while bzip2 of repodata.json runs).
        let inputs = [repodata, repodata, current, current]
        let compressed = ParallelSlots<Data>(count: 4)
        let sharded = ParallelSlots<RepodataShards>(count: 1)
        DispatchQueue.concurrentPerform(iterations: 5) { index in
            if index == 4 {
                do throws(SluiceError) {
                    let shards = try ShardsBuilder.build(
                        subdir: subdir, uniqueRecords: unique, builtAt: builtAt, createdAt: nil,
                        zstdLevel: shardZstdLevel, previous: previous?.shardEntries ?? [:])
                    sharded.set(0, .success(shards))
                } catch {
                    sharded.set(0, .failure(error))
                }
                return
            }
            do throws(SluiceError) {
                let input = inputs[index]
                let isLarge = input.count > largeInputSize
                let output: Data
                if index % 2 == 0 {
                    output = try Zstd.compress(
                        input, level: isLarge ? min(zstdLevel, largeInputZstdLevel) : zstdLevel,
                        workers: isLarge ? 2 : 0)
                } else if input.count > bzip2MaximumInputSize {
                    output = Data()  // not published; see bzip2MaximumInputSize
                } else {
                    output = try Bzip2.compress(input)
                }
                compressed.set(index, .success(output))
            } catch {
                compressed.set(index, .failure(error))
            }
        }
        let shards = try sharded.get(0)
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
            "repodata.json.bz2": PublishedFile(bytes: try compressed.get(1), contentType: bzip2, lastModified: builtAt),
            "current_repodata.json": PublishedFile(bytes: current, contentType: json, lastModified: builtAt),
            "current_repodata.json.zst": PublishedFile(
                bytes: try compressed.get(2), contentType: zstd, lastModified: builtAt),
            "current_repodata.json.bz2": PublishedFile(
                bytes: try compressed.get(3), contentType: bzip2, lastModified: builtAt),
            ShardsBuilder.indexFileName: shardIndex,
        ]
        for (name, input) in [("repodata.json.bz2", repodata), ("current_repodata.json.bz2", current)]
        where input.count > bzip2MaximumInputSize {
            files[name] = nil
        }
        return SubdirSnapshot(
            subdir: subdir, builtAt: builtAt, records: byFilename, files: files, shards: shards.files,
            shardEntries: shards.entries)
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
