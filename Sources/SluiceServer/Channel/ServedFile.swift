import Foundation
import NIOCore
import SluiceCore
import SluiceUpstream

/// A published channel file made ready for serving, once per publish: its bytes as a `ByteBuffer` and, for
/// `.json` files, a precomputed gzip representation with its own strong ETag.
///
/// Built by ``ChannelPublisher``; the channel route copies nothing and computes nothing per request.
public struct ServedFile: Sendable {
    /// One representation of the file: its body and its strong, quoted ETag.
    public struct Representation: Sendable {
        /// The bytes sent as the response body.
        public let body: ByteBuffer
        /// The strong, quoted ETag of exactly these bytes.
        public let etag: String
    }

    /// The file as published (the snapshot's bytes and validators).
    public let published: PublishedFile
    /// The bytes as published, with the published ETag.
    public let identity: Representation
    /// The gzip-encoded bytes (`Content-Encoding: gzip`), only for `.json` files.
    public let gzip: Representation?

    /// `Content-Type` of the file (never a content encoding: `.zst`/`.bz2` are files, not encodings).
    public var contentType: String { published.contentType }
    /// `Last-Modified`: when the snapshot holding the file was built.
    public var lastModified: Date { published.lastModified }

    /// Prepares `file` for serving; `gzip` adds the gzip representation.
    ///
    /// The bytes are held once: ``published`` is `file` with its bytes as a view of ``identity``'s buffer, so the
    /// caller should let go of `file` (and of the snapshot holding it: `SubdirSnapshot.replacingFiles`) to free the
    /// copy it was built in.
    /// - Throws: `SluiceError.internalError` if gzip compression fails.
    public init(_ file: PublishedFile, gzip: Bool) throws(SluiceError) {
        let body = ByteBuffer(bytes: file.bytes)
        self.published = file.sharing(Self.view(of: body))
        self.identity = Representation(body: body, etag: file.etag)
        if gzip {
            let compressed = try Gzip.compress(file.bytes)
            self.gzip = Representation(body: ByteBuffer(bytes: compressed), etag: Self.gzipETag(for: file.etag))
        } else {
            self.gzip = nil
        }
    }

    /// Prepares `file` for serving from `body`, which holds the same bytes that `file.bytes` views (see
    /// ``ServedBufferStorage``): nothing is copied.
    init(_ file: PublishedFile, servedFrom body: ByteBuffer, gzip: Bool) throws(SluiceError) {
        precondition(body.readableBytes == file.bytes.count, "ServedFile: buffer and file differ")
        self.published = file
        self.identity = Representation(body: body, etag: file.etag)
        if gzip {
            let compressed = try Gzip.compress(file.bytes)
            self.gzip = Representation(body: ByteBuffer(bytes: compressed), etag: Self.gzipETag(for: file.etag))
        } else {
            self.gzip = nil
        }
    }

    /// The readable bytes of `buffer` as `Data` without a copy: the `Data` keeps the buffer's storage alive. Nothing
    /// writes to a served buffer, so the bytes never move or change under the view.
    static func view(of buffer: ByteBuffer) -> Data {
        guard buffer.readableBytes > 0 else { return Data() }
        return buffer.withUnsafeReadableBytes { raw in
            Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress!), count: raw.count,
                deallocator: .custom { _, _ in withExtendedLifetime(buffer) {} })
        }
    }

    /// The ETag of the gzip representation: the identity tag with `-gzip` appended inside the quotes, so the two
    /// representations never share a strong validator.
    static func gzipETag(for etag: String) -> String {
        if etag.hasSuffix("\"") {
            return String(etag.dropLast()) + "-gzip\""
        }
        return "\"\(etag)-gzip\""
    }
}

/// A `DocumentStorage` that has a snapshot's documents written straight into `ByteBuffer`s, and hands each buffer
/// back for the `Data` viewing it, so that ``ServedFile`` serves the bytes without copying them.
final class ServedBufferStorage: @unchecked Sendable {
    private let lock = NSLock()
    private var buffers: [Int: ByteBuffer] = [:]

    /// The storage to pass to `SubdirSnapshot.build`.
    var storage: DocumentStorage {
        DocumentStorage { [self] count, fill in
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                fill(UnsafeMutableRawBufferPointer(rebasing: raw[..<count]))
                return count
            }
            let view = ServedFile.view(of: buffer)
            lock.lock()
            buffers[Self.address(of: view)] = buffer
            lock.unlock()
            return view
        }
    }

    /// The buffer `bytes` views, if it was made here (each one is handed out once).
    func take(_ bytes: Data) -> ByteBuffer? {
        guard !bytes.isEmpty else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard let buffer = buffers.removeValue(forKey: Self.address(of: bytes)),
            buffer.readableBytes == bytes.count
        else { return nil }
        return buffer
    }

    private static func address(of bytes: Data) -> Int {
        bytes.withUnsafeBytes { Int(bitPattern: $0.baseAddress) }
    }
}

/// A package file listed in a published subdir: what the channel route needs to serve it without a database query.
public struct ServedPackage: Hashable, Sendable {
    /// The content address of the bytes in the `BlobStore`.
    public let sha256: String
    /// The size in bytes.
    public let size: Int64
    /// When this file name got these bytes (the upload time), used as `Last-Modified`.
    public let lastModified: Date

    /// The strong ETag: the quoted sha256 (the bytes never change under it).
    public var etag: String { "\"\(sha256)\"" }

    /// The serving entry of a cached upstream file (`Last-Modified` is when it entered the cache).
    public init(_ cached: CachedUpstreamFile) {
        self.init(sha256: cached.sha256, size: cached.size, lastModified: cached.cachedAt)
    }

    /// Creates the serving entry of one package file.
    public init(sha256: String, size: Int64, lastModified: Date) {
        self.sha256 = sha256
        self.size = size
        self.lastModified = lastModified
    }
}

/// One published subdir made ready for serving: the snapshot, its files as ``ServedFile``s, and its packages.
public struct ServedSubdir: Sendable {
    /// The snapshot every file was built from.
    public let snapshot: SubdirSnapshot
    /// The snapshot's files by name (`repodata.json`, `repodata.json.zst`, ..., `repodata_shards.msgpack.zst`).
    public let files: [String: ServedFile]
    /// The snapshot's CEP 16 shards by file name (`<sha256>.msgpack.zst`, served under `<subdir>/shards/`).
    public let shards: [String: ServedFile]
    /// The package files by file name.
    public let packages: [String: ServedPackage]
    /// The files listed only by an upstream (proxy feeds): where to fetch each one through.
    public let upstreamPackages: [String: UpstreamPackage]

    /// Bundles a snapshot with its files prepared for serving.
    public init(
        snapshot: SubdirSnapshot, files: [String: ServedFile], shards: [String: ServedFile] = [:],
        packages: [String: ServedPackage], upstreamPackages: [String: UpstreamPackage] = [:]
    ) {
        self.snapshot = snapshot
        self.files = files
        self.shards = shards
        self.packages = packages
        self.upstreamPackages = upstreamPackages
    }
}

/// A file of a proxy feed that only an upstream has: the connector it comes from and what its record says the
/// bytes are (a download is verified against it).
public struct UpstreamPackage: Hashable, Sendable {
    /// The connector's name.
    public let connector: String
    /// Size and sha256/md5 from the upstream record.
    public let expected: ExpectedFile

    /// Creates the entry of one upstream file.
    public init(connector: String, expected: ExpectedFile) {
        self.connector = connector
        self.expected = expected
    }

    /// The strong ETag the file will have once cached (its quoted sha256), if the record states the sha256.
    public var etag: String? { expected.sha256.map { "\"\($0)\"" } }
}
