import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore

extension UpstreamClient {
    /// Fetches (or revalidates) the repodata of one upstream subdir.
    ///
    /// Tries `<channel>/<subdir>/repodata.json.zst` first and falls back to `repodata.json` when the `.zst` answers
    /// 4xx (other than 416) or is not valid zstd; the client then remembers, per channel and subdir, that there is no
    /// `.zst` and asks for `repodata.json` directly until ``Configuration/zstdRecheckInterval`` passes. Validators
    /// are sent as `If-None-Match` / `If-Modified-Since`, only to the file they came from.
    ///
    /// - Returns: `.notModified` on 304, `.notFound` when the subdir does not exist upstream (404), else the
    ///   decompressed JSON bytes with the new validators.
    /// - Throws: `SluiceError.upstreamUnavailable` on 5xx, 401/403, other 4xx, connection errors, or a body that is
    ///   not JSON; `SluiceError.upstreamTimeout` when the upstream does not answer (or stalls) within the timeout;
    ///   `SluiceError.invalidInput` when `subdir` is not a subdir name.
    public func fetchRepodata(
        channel: UpstreamChannel,
        subdir: String,
        validators: CacheValidators?
    ) async throws(SluiceError) -> RepodataFetchResult {
        guard ChannelNames.isSubdir(subdir) else {
            throw .invalidInput("'\(subdir)' is not a conda subdir name.")
        }
        var zstdFailed = false
        if !isZstdKnownMissing(channel: channel, subdir: subdir) {
            let url = channel.url(subdir: subdir, filename: RepodataVariant.zstd.filename)
            let display = UpstreamChannel.redactingCredentials(in: url)
            switch try await get(url, channel: channel, headers: conditionalHeaders(validators, for: .zstd)) {
            case .notModified:
                logger.debug("upstream repodata not modified", metadata: ["upstream.url": "\(display)"])
                return .notModified
            case .ok(let response):
                let compressed = try await collect(
                    response, limit: configuration.maximumRepodataSize, url: display, timeout: channel.timeout)
                do {
                    let body = try Zstd.decompress(compressed, maxOutputSize: configuration.maximumRepodataSize)
                    try Self.checkLooksLikeJSON(body, url: display)
                    return .fetched(
                        body: body, validators: Self.validators(of: response, variant: .zstd), variant: .zstd)
                } catch  where error.code == .invalidInput {
                    // Not zstd (an HTML page or a mislabelled file, conda#13558): fall back like conda does.
                    logger.warning(
                        "upstream repodata.json.zst is not valid zstd; using repodata.json",
                        metadata: ["upstream.url": "\(display)", "error": "\(error.message)"])
                    zstdFailed = true
                }
            case .status(let status) where (400..<500).contains(status.code) && status.code != 416:
                logger.debug(
                    "upstream has no repodata.json.zst",
                    metadata: ["upstream.url": "\(display)", "status": "\(status.code)"])
                zstdFailed = true
            case .status(let status):
                throw Self.statusError(status, url: display)
            }
        }

        let url = channel.url(subdir: subdir, filename: RepodataVariant.json.filename)
        let display = UpstreamChannel.redactingCredentials(in: url)
        switch try await get(url, channel: channel, headers: conditionalHeaders(validators, for: .json)) {
        case .notModified:
            if zstdFailed { rememberZstdMissing(channel: channel, subdir: subdir) }
            return .notModified
        case .ok(let response):
            let body = try await collect(
                response, limit: configuration.maximumRepodataSize, url: display, timeout: channel.timeout)
            try Self.checkLooksLikeJSON(body, url: display)
            if zstdFailed { rememberZstdMissing(channel: channel, subdir: subdir) }
            return .fetched(body: body, validators: Self.validators(of: response, variant: .json), variant: .json)
        case .status(let status) where status.code == 404 || status.code == 410:
            logger.debug("upstream subdir not found", metadata: ["upstream.url": "\(display)"])
            return .notFound
        case .status(let status):
            throw Self.statusError(status, url: display)
        }
    }

    private func conditionalHeaders(_ validators: CacheValidators?, for variant: RepodataVariant) -> [(String, String)]
    {
        guard let validators, validators.variant == nil || validators.variant == variant else { return [] }
        var headers: [(String, String)] = []
        if let etag = validators.etag { headers.append(("If-None-Match", etag)) }
        if let lastModified = validators.lastModified { headers.append(("If-Modified-Since", lastModified)) }
        return headers
    }

    private static func validators(of response: HTTPClientResponse, variant: RepodataVariant) -> CacheValidators {
        CacheValidators(
            etag: response.headers.first(name: "ETag"),
            lastModified: response.headers.first(name: "Last-Modified"),
            variant: variant)
    }

    /// Rejects bodies that cannot be repodata: anything but empty or starting (after whitespace) with `{`.
    static func checkLooksLikeJSON(_ body: Data, url: String) throws(SluiceError) {
        for byte in body {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            case UInt8(ascii: "{"): return
            default:
                throw SluiceError(
                    .upstreamUnavailable,
                    "\(url): the upstream sent something that is not repodata JSON (it starts with "
                        + "\(String(decoding: body.prefix(40), as: UTF8.self).debugDescription)).")
            }
        }
    }

    /// Turns upstream repodata JSON into records to publish in a proxy feed.
    ///
    /// Every record keeps its fields exactly as the upstream published them (hot-fixed `depends`/`constrains`
    /// survive), except:
    /// - `url` and `channel` are dropped and `info.base_url` is ignored, so every download goes through Sluice
    ///   (a client that saw an absolute URL would bypass the proxy);
    /// - a record without `subdir` gets `subdir` (as conda-index does);
    /// - records whose key is not a valid `<name>-<version>-<build>.conda|.tar.bz2` file name, or whose value is not
    ///   an object, are dropped, and so are the packages `filter` does not allow (checked against the name in the
    ///   file name and the record's `name`; both must pass);
    /// - the `removed` list is not carried over.
    /// An empty body or `{}` is an empty subdir. Records come in no particular order.
    ///
    /// - Throws: `SluiceError.upstreamUnavailable` when the bytes are not a JSON object or `info.subdir` names another
    ///   subdir.
    public func parseRepodata(
        _ json: Data,
        subdir: String,
        filter: ConnectorFilter
    ) throws(SluiceError) -> [PackageRecord] {
        guard let first = json.first(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) else {
            return []
        }
        guard first == UInt8(ascii: "{") || first == 0xEF else {
            // Not an object: let the tree parser say whether it is JSON at all.
            do {
                _ = try JSONValue.parse(json)
            } catch {
                throw SluiceError(
                    .upstreamUnavailable, "Upstream repodata for \(subdir) is not valid JSON: \(error.message)",
                    cause: error)
            }
            throw SluiceError(.upstreamUnavailable, "Upstream repodata for \(subdir) is not a JSON object.")
        }
        // Streamed record by record (no document tree): a 450,000-record subdir is parsed once, into its records.
        var records: [PackageRecord] = []
        records.reserveCapacity(json.count / 600)
        var position: [String: Int] = [:]
        position.reserveCapacity(json.count / 600)
        let parsed: Result<RepodataStream.Header, SluiceError> = json.withUnsafeBytes { bytes in
            Result { () throws(SluiceError) -> RepodataStream.Header in
                try RepodataStream.parse(bytes, skippingKeys: ["url", "channel"]) { _, filename, fields in
                    guard var record = Self.upstreamRecord(filename: filename, fields: fields, filter: filter) else {
                        return
                    }
                    if record.fields["subdir"]?.stringValue?.isEmpty ?? true {
                        record.fields["subdir"] = .string(subdir)
                    }
                    // A file name listed twice keeps its last record, as a JSON object keeps its last member.
                    if let existing = position.updateValue(records.count, forKey: filename) {
                        records[existing] = record
                        position[filename] = existing
                    } else {
                        records.append(record)
                    }
                }
            }
        }
        let header: RepodataStream.Header
        do throws(SluiceError) {
            header = try parsed.get()
        } catch {
            throw SluiceError(
                .upstreamUnavailable, "Upstream repodata for \(subdir) is not valid JSON: \(error.message)",
                cause: error)
        }
        if let declared = header.subdir, !declared.isEmpty, declared != subdir {
            throw SluiceError(
                .upstreamUnavailable,
                "Upstream repodata fetched for subdir \(subdir) says it is for subdir \(declared).")
        }
        return records
    }

    /// The record for `filename` when it is a valid package file name that `filter` allows (checked against the name
    /// in the file name and the record's `name`; both must pass), else nil.
    private static func upstreamRecord(
        filename: String, fields: [String: JSONValue], filter: ConnectorFilter
    ) -> PackageRecord? {
        if filter.allowsEverything {
            guard Self.isPackageFilename(filename) else { return nil }
        } else {
            guard let parsed = PackageFilename(filename), filter.allows(packageName: parsed.name) else { return nil }
            if let name = fields["name"]?.stringValue, name != parsed.name, !filter.allows(packageName: name) {
                return nil
            }
        }
        return PackageRecord(filename: filename, fields: fields)
    }

    /// Whether `PackageFilename(filename)` would accept `filename`, decided on the bytes for printable ASCII names
    /// (every real one) and by `PackageFilename` otherwise.
    static func isPackageFilename(_ filename: String) -> Bool {
        var filename = filename
        let decided: Bool? = filename.withUTF8 { bytes -> Bool? in
            let suffixLength: Int
            if bytes.count > 6, bytes[(bytes.count - 6)...].elementsEqual(".conda".utf8) {
                suffixLength = 6
            } else if bytes.count > 8, bytes[(bytes.count - 8)...].elementsEqual(".tar.bz2".utf8) {
                suffixLength = 8
            } else {
                return false
            }
            guard bytes.count <= 211 else { return nil }
            var dashes: [Int] = []
            for (offset, byte) in bytes.enumerated() {
                // Control characters and non-ASCII count as Characters differently than as bytes: let
                // PackageFilename decide.
                if byte < 0x20 || byte >= 0x80 { return nil }
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") { return false }
                if byte == UInt8(ascii: "-"), offset < bytes.count - suffixLength { dashes.append(offset) }
            }
            guard dashes.count >= 2 else { return false }
            let buildDash = dashes[dashes.count - 1]
            let versionDash = dashes[dashes.count - 2]
            return buildDash + 1 < bytes.count - suffixLength && versionDash + 1 < buildDash && versionDash > 0
        }
        return decided ?? (PackageFilename(filename) != nil)
    }
}
