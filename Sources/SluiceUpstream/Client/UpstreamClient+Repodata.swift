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
        if json.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { return [] }
        let document: JSONValue
        do {
            document = try JSONValue.parse(json)
        } catch {
            throw SluiceError(
                .upstreamUnavailable, "Upstream repodata for \(subdir) is not valid JSON: \(error.message)",
                cause: error)
        }
        guard case .object(let root) = document else {
            throw SluiceError(.upstreamUnavailable, "Upstream repodata for \(subdir) is not a JSON object.")
        }
        if let declared = root["info"]?["subdir"]?.stringValue, !declared.isEmpty, declared != subdir {
            throw SluiceError(
                .upstreamUnavailable,
                "Upstream repodata fetched for subdir \(subdir) says it is for subdir \(declared).")
        }
        var records: [PackageRecord] = []
        let packages = root["packages"]?.objectValue ?? [:]
        let condaPackages = root["packages.conda"]?.objectValue ?? [:]
        records.reserveCapacity(packages.count + condaPackages.count)
        for section in [packages, condaPackages] {
            for (filename, value) in section {
                guard case .object(var fields) = value, let parsed = PackageFilename(filename) else { continue }
                if !filter.allowsEverything {
                    guard filter.allows(packageName: parsed.name) else { continue }
                    if let name = fields["name"]?.stringValue, name != parsed.name,
                        !filter.allows(packageName: name)
                    {
                        continue
                    }
                }
                fields.removeValue(forKey: "url")
                fields.removeValue(forKey: "channel")
                if fields["subdir"]?.stringValue?.isEmpty ?? true {
                    fields["subdir"] = .string(subdir)
                }
                records.append(PackageRecord(filename: filename, fields: fields))
            }
        }
        return records
    }
}
