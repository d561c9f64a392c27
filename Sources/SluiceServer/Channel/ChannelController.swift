import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFileSystem
import SluiceCore
import SluiceUpstream

/// The conda channel: serves every feed under `/conda/<feed>/` the way conda, mamba and rattler expect it.
///
/// Endpoints (GET and HEAD; `/conda/t/<token>/…` and `/t/<token>/conda/…` are accepted too and the token stripped):
/// - `/conda/<feed>/channeldata.json`
/// - `/conda/<feed>/<subdir>/repodata.json` (`.zst`, `.bz2`) and `current_repodata.json` (`.zst`, `.bz2`), from the
///   ``ChannelPublisher``'s snapshot, with strong ETags, `Last-Modified`, 304s and optional gzip for `.json`;
/// - `/conda/<feed>/<subdir>/<name>-<version>-<build>.conda|.tar.bz2`, streamed from the `BlobStore` with single and
///   suffix byte ranges (206, 416, `If-Range`); in a proxy feed a file only the upstream has is fetched through
///   the ``UpstreamMirror`` on first request (verified, cached, then served like a hosted file);
/// - `/conda/<feed>/<subdir>/repodata_shards.msgpack.zst` (CEP 16 shard index, same `Cache-Control` and validators
///   as repodata) and `/conda/<feed>/<subdir>/shards/<sha256>.msgpack.zst` (content-addressed shards,
///   `Cache-Control: public, max-age=31536000, immutable`): from the live snapshot, else from the ``ShardArchive``
///   (superseded shards), else 404. The index's `base_url` and `shards_base_url` are relative (`""`, `shards/`), so
///   they resolve under whatever prefix the client used (`/t/<token>/…` included) and never name a token or host.
///   Request directives such as rattler's `Cache-Control: no-store` do not change the response;
/// - `PUT /conda/<feed>/<subdir>/<filename>`, handed to the upload handler.
///
/// Paths are normalised first (`./`, `../`, `//`; see ``ChannelPath``). Everything that is not served is a 404
/// `SluiceError.notFound` with a JSON body.
public struct ChannelController: Sendable {
    /// HTTP behaviour of the channel routes.
    public struct Configuration: Sendable {
        /// `Cache-Control: public, max-age=<repodataMaxAge>` on repodata and channeldata, in seconds.
        public var repodataMaxAge: Int = 60
        /// Whether `.json` bodies are sent gzip-encoded to clients that offer gzip.
        public var gzipJSON: Bool = true
        /// Whether CEP 16 sharded repodata (`<subdir>/repodata_shards.msgpack.zst`, `<subdir>/shards/<sha256>.msgpack.zst`)
        /// is served. On by default; when off those paths are 404s and clients fall back to `repodata.json`.
        public var serveShards: Bool = true
        /// Upstream files at least this large (bytes) are streamed to the first client while they download (a
        /// verification failure then aborts that response); smaller ones are downloaded and verified first, so a
        /// bad file is a clean 502. Default 4 MiB.
        public var proxyStreamingThreshold: Int64 = 4 << 20
        /// Package files up to ``hotFileMaximumSize`` bytes are kept in memory once read, up to this many bytes in
        /// all (least recently used evicted first); 0 turns the cache off. Default 64 MiB.
        public var hotFileCacheCapacity: Int = 64 << 20
        /// The largest package file the in-memory cache keeps. Default 1 MiB.
        public var hotFileMaximumSize: Int = 1 << 20

        /// Creates a configuration; every parameter defaults to the documented default.
        public init(
            repodataMaxAge: Int = 60, gzipJSON: Bool = true, serveShards: Bool = true,
            proxyStreamingThreshold: Int64 = 4 << 20, hotFileCacheCapacity: Int = 64 << 20,
            hotFileMaximumSize: Int = 1 << 20
        ) {
            self.repodataMaxAge = repodataMaxAge
            self.gzipJSON = gzipJSON
            self.serveShards = serveShards
            self.proxyStreamingThreshold = proxyStreamingThreshold
            self.hotFileCacheCapacity = hotFileCacheCapacity
            self.hotFileMaximumSize = hotFileMaximumSize
        }
    }

    /// Handles `PUT /conda/<feed>/<subdir>/<filename>` (the conda-native upload), called after path normalisation.
    public typealias UploadHandler =
        @Sendable (
            Request, SluiceRequestContext, _ feed: String, _ subdir: String, _ filename: String
        ) async throws -> Response

    /// Where the snapshots and channeldata come from.
    public let publisher: ChannelPublisher
    /// The database (not queried per request; kept for routes that need it later).
    public let metadata: any MetadataStore
    /// Where package bytes are read from.
    public let blobs: any BlobStore
    /// Fetches upstream-only files of proxy feeds; without it they are 404s.
    public let mirror: UpstreamMirror?
    /// HTTP behaviour of the routes.
    public let configuration: Configuration
    /// Receives conda-native uploads; when nil, such a PUT is a 404.
    public var uploadHandler: UploadHandler?
    /// Authorizes reads: GET and HEAD need View & Download on the feed (``AccessControl/require(_:feed:identity:)``).
    /// `buildRouter` always sets it; nil (only in tests of the channel alone) checks nothing.
    public var access: AccessControl?
    /// Superseded shards, served when the live snapshot no longer has a requested shard; the index's first serve
    /// per snapshot is noted there. `buildRouter` sets it; nil serves shards of the live snapshot only.
    public var shardArchive: ShardArchive?
    /// Refuses (403, ``ComplianceRefusal``) direct downloads of files a blocking feed hides. `buildRouter` sets it;
    /// nil checks nothing.
    public var compliance: ComplianceStoreGate?
    /// Counts successful package-file downloads (GET 200, or 206 from byte 0). `buildRouter` sets it; nil counts
    /// nothing.
    public var downloads: DownloadCounter?
    /// Small package files kept in memory (content-addressed, so never stale).
    let hotFiles: HotBlobCache

    /// The chunk size for reading package files from disk.
    static let fileChunkLength = 256 * 1024
    /// `Cache-Control` of content-addressed files: packages and shards.
    static let immutableCacheControl = "public, max-age=31536000, immutable"

    /// Creates the controller; call ``addRoutes(to:)`` to serve it. `uploadHandler` receives
    /// `PUT /conda/<feed>/<subdir>/<filename>`.
    public init(
        publisher: ChannelPublisher, metadata: any MetadataStore, blobs: any BlobStore, mirror: UpstreamMirror? = nil,
        configuration: Configuration = .init(), uploadHandler: UploadHandler? = nil
    ) {
        self.publisher = publisher
        self.metadata = metadata
        self.blobs = blobs
        self.mirror = mirror
        self.configuration = configuration
        self.uploadHandler = uploadHandler
        self.hotFiles = HotBlobCache(
            capacity: configuration.hotFileCacheCapacity, maximumEntrySize: configuration.hotFileMaximumSize)
    }

    /// Adds GET, HEAD and PUT on `/conda/**` and `/t/*/conda/**`.
    public func addRoutes(to router: Router<SluiceRequestContext>) {
        for prefix in ["/conda/**", "/t/*/conda/**"] {
            let path = RouterPath(prefix)
            router.on(path, method: .get) { request, context in try await self.serve(request, context: context) }
            router.on(path, method: .head) { request, context in try await self.serve(request, context: context) }
            router.on(path, method: .put) { request, context in try await self.upload(request, context: context) }
        }
    }

    // MARK: Handlers

    /// Serves GET and HEAD.
    func serve(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let path = try ChannelPath.parse(request.uri.path)
        try await access?.require(.viewDownload, feed: path.feed, identity: context.identity)
        switch path.target {
        case .channeldata:
            let file = try await publisher.servedChanneldata(feed: path.feed)
            return respond(with: file, isJSON: true, cacheControl: repodataCacheControl, to: request)

        case .subdirFile(let subdir, let name):
            let isShardIndex = name == "repodata_shards.msgpack.zst"
            let isShard = name.hasPrefix("shards/")
            if isShardIndex || isShard || name.hasSuffix(".msgpack.zst") {
                guard configuration.serveShards, isShardIndex || isShard else {
                    throw SluiceError.notFound(
                        "Sharded repodata (CEP 16) is not offered by this server; use \(subdir)/repodata.json.")
                }
            }
            let servedSubdir = try await publisher.servedSubdir(feed: path.feed, subdir: subdir)
            if isShard {
                // Live snapshot first, then the archive (a subdir emptied since still serves its old shards).
                let fileName = String(name.dropFirst("shards/".count))
                var found = servedSubdir?.shards[fileName]
                if found == nil, let shardArchive {
                    found = try await shardArchive.shard(feed: path.feed, subdir: subdir, fileName: fileName)
                }
                guard let shard = found else {
                    throw SluiceError.notFound(
                        "There is no shard '\(name)' in feed '\(path.feed)', subdir '\(subdir)'.")
                }
                return respond(with: shard, isJSON: false, cacheControl: Self.immutableCacheControl, to: request)
            }
            guard let served = servedSubdir else {
                throw SluiceError.notFound("Feed '\(path.feed)' has no packages for subdir '\(subdir)'.")
            }
            if isShardIndex, let shardArchive {
                // Once per snapshot this records its shards, so they outlive it.
                await shardArchive.noteIndexServed(feed: path.feed, subdir: subdir, served: served)
            }
            if let file = served.files[name] {
                return respond(
                    with: file, isJSON: name.hasSuffix(".json"), cacheControl: repodataCacheControl, to: request)
            }
            if let compliance, served.snapshot.records[name] == nil,
                served.packages[name] != nil || served.upstreamPackages[name] != nil
            {
                // Hidden from repodata: a blocking feed refuses it with the reasons (403).
                try await compliance.checkDownload(
                    feed: path.feed, subdir: subdir, filename: name, listed: false,
                    upstreamConnector: served.packages[name] == nil ? served.upstreamPackages[name]?.connector : nil,
                    metadata: metadata, mirror: mirror)
            }
            if let package = served.packages[name] {
                return countingDownload(
                    try await respond(with: package, to: request, context: context), of: name, in: path.feed,
                    subdir: subdir, request: request)
            }
            if let upstream = served.upstreamPackages[name], let mirror {
                return countingDownload(
                    try await respond(
                        withUpstream: upstream, subdir: subdir, filename: name, mirror: mirror, to: request,
                        context: context), of: name, in: path.feed, subdir: subdir, request: request)
            }
            throw SluiceError.notFound("'\(name)' is not in feed '\(path.feed)', subdir '\(subdir)'.")

        case .feedRoot, .other:
            throw SluiceError.notFound(
                "Nothing is served at '\(ChannelPath.redacted(request.uri.path))'. Channel files live at "
                    + "/conda/<feed>/channeldata.json and /conda/<feed>/<subdir>/<file>.")
        }
    }

    /// Hands `PUT /conda/<feed>/<subdir>/<filename>` to the upload handler.
    func upload(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let path = try ChannelPath.parse(request.uri.path)
        guard case .subdirFile(let subdir, let filename) = path.target, !filename.contains("/") else {
            throw SluiceError.notFound(
                "Uploads go to PUT /conda/<feed>/<subdir>/<filename>; "
                    + "'\(ChannelPath.redacted(request.uri.path))' is not such a path.")
        }
        guard let uploadHandler else {
            throw SluiceError.notFound("This server does not accept uploads through channel URLs.")
        }
        return try await uploadHandler(request, context, path.feed, subdir, filename)
    }

    // MARK: Responses

    /// `Cache-Control` of repodata, the shard index and channeldata.
    var repodataCacheControl: String { "public, max-age=\(configuration.repodataMaxAge)" }

    /// A published file (repodata variant, shard index, shard or channeldata): 200 or 304, gzip for `.json` when
    /// offered and enabled.
    func respond(with file: ServedFile, isJSON: Bool, cacheControl: String, to request: Request) -> Response {
        let useGzip =
            isJSON && configuration.gzipJSON && file.gzip != nil
            && AcceptEncoding.allowsGzip(request.headers[.acceptEncoding])
        let representation = useGzip ? file.gzip! : file.identity
        var headers = HTTPFields()
        headers[.eTag] = representation.etag
        headers[.lastModified] = HTTPDate.format(file.lastModified)
        headers[.cacheControl] = cacheControl
        if isJSON && configuration.gzipJSON {
            headers[.vary] = "Accept-Encoding"
        }
        if notModified(request, etag: representation.etag, lastModified: file.lastModified) {
            return Self.notModifiedResponse(headers: headers)
        }
        headers[.contentType] = file.contentType
        if useGzip {
            headers[.contentEncoding] = "gzip"
        }
        headers[.contentLength] = String(representation.body.readableBytes)
        if request.method == .head {
            return Response(status: .ok, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: representation.body))
    }

    /// A package file: 200, 206, 304 or 416, streamed from the blob store (never content-encoded).
    func respond(
        with package: ServedPackage, to request: Request, context: SluiceRequestContext
    ) async throws -> Response {
        var headers = HTTPFields()
        headers[.eTag] = package.etag
        headers[.lastModified] = HTTPDate.format(package.lastModified)
        headers[.cacheControl] = Self.immutableCacheControl
        headers[.acceptRanges] = "bytes"
        if notModified(request, etag: package.etag, lastModified: package.lastModified) {
            return Self.notModifiedResponse(headers: headers)
        }
        headers[.contentType] = "application/octet-stream"

        var selection = ByteRange.whole
        if let range = request.headers[.range] {
            let ifRangeHolds = request.headers[.ifRange].map {
                HTTPConditional.ifRangeMatches($0, etag: package.etag, lastModified: package.lastModified)
            }
            if ifRangeHolds ?? true {
                selection = ByteRange.evaluate(range, size: package.size)
            }
        }

        let status: HTTPResponse.Status
        let blobRange: Range<Int64>?
        switch selection {
        case .unsatisfiable:
            var response = try SluiceError(
                .rangeNotSatisfiable,
                "The requested range lies outside the file (\(package.size) bytes)."
            ).response(from: request, context: context)
            response.headers[.contentRange] = "bytes */\(package.size)"
            response.headers[.acceptRanges] = "bytes"
            return response
        case .partial(let bounds):
            status = .partialContent
            blobRange = bounds.lowerBound..<(bounds.upperBound + 1)
            headers[.contentRange] = "bytes \(bounds.lowerBound)-\(bounds.upperBound)/\(package.size)"
            headers[.contentLength] = String(bounds.count)
        case .whole:
            status = .ok
            blobRange = nil
            headers[.contentLength] = String(package.size)
        }
        if request.method == .head {
            return Response(status: status, headers: headers)
        }
        if hotFiles.admits(size: package.size) {
            let whole = try await hotFileBytes(of: package)
            let slice =
                blobRange.map {
                    whole.getSlice(at: Int($0.lowerBound), length: Int($0.count)) ?? ByteBuffer()
                } ?? whole
            return Response(status: status, headers: headers, body: .init(byteBuffer: slice))
        }
        let content = try await blobs.read(sha256: package.sha256, range: blobRange)
        return Response(status: status, headers: headers, body: Self.body(streaming: content))
    }

    /// A small package's whole bytes, from memory or read once from the blob store.
    private func hotFileBytes(of package: ServedPackage) async throws -> ByteBuffer {
        if let cached = hotFiles.bytes(sha256: package.sha256) {
            return cached
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Int(package.size))
        switch try await blobs.read(sha256: package.sha256, range: nil) {
        case .file(let url, let range):
            if !range.isEmpty {
                try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(url.path)) { handle in
                    for try await chunk in handle.readChunks(
                        in: range, chunkLength: .bytes(Int64(Self.fileChunkLength)))
                    {
                        var chunk = chunk
                        buffer.writeBuffer(&chunk)
                    }
                }
            }
        case .chunks(let stream, _):
            for try await data in stream {
                buffer.writeBytes(data)
            }
        }
        guard buffer.readableBytes == package.size else {
            throw SluiceError(
                .storageFailure,
                "Stored blob \(package.sha256) has \(buffer.readableBytes) bytes; its record says \(package.size).")
        }
        hotFiles.insert(sha256: package.sha256, bytes: buffer)
        return buffer
    }

    /// A file of a proxy feed that only an upstream lists: served from the cache when there, else fetched once
    /// (single-flight) and verified. A plain GET of a large file that starts the download streams it while it is
    /// written; every other request (HEAD, ranges, joiners, small files) waits for the verified file and is served
    /// from the blob like a hosted file.
    func respond(
        withUpstream upstream: UpstreamPackage, subdir: String, filename: String, mirror: UpstreamMirror,
        to request: Request, context: SluiceRequestContext
    ) async throws -> Response {
        if let cached = try await mirror.cachedPackage(
            connector: upstream.connector, subdir: subdir, filename: filename)
        {
            await mirror.notePackageHit(connector: upstream.connector)
            return try await respond(with: ServedPackage(cached), to: request, context: context)
        }
        let streams =
            request.method == .get && request.headers[.range] == nil
            && upstream.expected.size >= configuration.proxyStreamingThreshold
        guard streams else {
            let file = try await mirror.fetchPackage(
                connector: upstream.connector, subdir: subdir, filename: filename, expected: upstream.expected)
            return try await respond(with: ServedPackage(file), to: request, context: context)
        }

        let relay = ChunkRelay()
        Task {
            do {
                _ = try await mirror.fetchPackage(
                    connector: upstream.connector, subdir: subdir, filename: filename, expected: upstream.expected,
                    onChunk: { chunk in try await relay.send(chunk) })
                await relay.finish(nil)
            } catch {
                await relay.finish(error)
            }
        }
        let first: ByteBuffer
        switch await relay.next() {
        case .failed(let error):
            throw error
        case .finished:
            // Another request's download filled the cache (or the file is empty): serve the verified blob.
            guard
                let cached = try await mirror.cachedPackage(
                    connector: upstream.connector, subdir: subdir, filename: filename)
            else {
                throw SluiceError(
                    .internalError, "The upstream file \(subdir)/\(filename) was fetched but is not cached.")
            }
            return try await respond(with: ServedPackage(cached), to: request, context: context)
        case .chunk(let chunk):
            first = chunk
        }
        var headers = HTTPFields()
        if let etag = upstream.etag { headers[.eTag] = etag }
        headers[.cacheControl] = Self.immutableCacheControl
        headers[.acceptRanges] = "bytes"
        headers[.contentType] = "application/octet-stream"
        headers[.contentLength] = String(upstream.expected.size)
        let logger = context.logger
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: Int(upstream.expected.size)) { writer in
                do {
                    try await writer.write(first)
                    streaming: while true {
                        switch await relay.next() {
                        case .chunk(let chunk): try await writer.write(chunk)
                        case .finished: break streaming
                        case .failed(let error):
                            // The client got part of a file that failed verification: abort, never complete it.
                            logger.error(
                                "Aborted a streamed upstream download",
                                metadata: ["file": "\(subdir)/\(filename)", "error": "\(error)"])
                            throw error
                        }
                    }
                } catch {
                    await relay.detach()
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    /// Whether the request's validators say the client's copy is current (GET and HEAD only).
    private func notModified(_ request: Request, etag: String, lastModified: Date) -> Bool {
        HTTPConditional.evaluate(
            ifNoneMatch: request.headers[.ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince],
            etag: etag, lastModified: lastModified) == .notModified
    }

    /// 304 with the validators and caching headers of the 200 it replaces, and no body framing.
    private static func notModifiedResponse(headers: HTTPFields) -> Response {
        var response = Response(status: .notModified, headers: headers)
        response.headers[.contentLength] = nil
        return response
    }

    /// A response body that streams blob content: a local file in large chunks, or the backend's chunks.
    static func body(streaming content: BlobContent) -> ResponseBody {
        switch content {
        case .file(let url, let range):
            return ResponseBody(contentLength: Int(range.count)) { writer in
                if !range.isEmpty {
                    try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(url.path)) { handle in
                        for try await chunk in handle.readChunks(in: range, chunkLength: .bytes(Int64(fileChunkLength)))
                        {
                            try await writer.write(chunk)
                        }
                    }
                }
                try await writer.finish(nil)
            }
        case .chunks(let stream, let count):
            return ResponseBody(contentLength: Int(count)) { writer in
                for try await data in stream {
                    try await writer.write(ByteBuffer(bytes: data))
                }
                try await writer.finish(nil)
            }
        }
    }
}
