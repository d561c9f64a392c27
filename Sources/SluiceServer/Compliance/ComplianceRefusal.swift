import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// The error of a request that compliance refuses: a download of a blocked file (403) or a promotion of a
/// noncompliant package (409). Its JSON body extends the usual `{"error","message"}` with what blocked it:
///
/// ```json
/// {"error": "forbidden" | "noncompliant", "message": "...", "feed": "...",
///  "packages": [{"filename","subdir","name","version","outcome","advisories":[..],"licenseRules":[..],
///                "reasons":[..]}],
///  "exceptionHint": "Ask an administrator to add an exception: sluice compliance exceptions add ..."}
/// ```
public struct ComplianceRefusal: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    /// The `error` field: `forbidden` for downloads, `noncompliant` for promotions.
    public let code: String
    public let message: String
    public let feed: String
    public let verdicts: [ComplianceVerdict]

    /// The sentence telling how to get an exception for these packages.
    public var exceptionHint: String {
        let first = verdicts.first
        let name = first?.name ?? "NAME"
        let version = first.map { " --version '==\($0.version)'" } ?? ""
        return "Ask an administrator to add an exception: sluice compliance exceptions add \(name)\(version) "
            + "--feed \(feed) --reason '...' (or POST /api/compliance/exceptions/create)."
    }

    /// A 403 for downloading a file that `feed` blocks.
    public static func download(_ verdict: ComplianceVerdict, feed: String) -> ComplianceRefusal {
        let reasons = verdict.results.filter { $0.outcome == .noncompliant }.map(\.reason)
        return ComplianceRefusal(
            status: .forbidden, code: "forbidden",
            message: "\(verdict.subdir)/\(verdict.filename) is blocked in feed '\(feed)' because it is noncompliant: "
                + reasons.joined(separator: " "),
            feed: feed, verdicts: [verdict])
    }

    /// A 409 for promoting noncompliant packages into `feed`.
    public static func promotion(_ verdicts: [ComplianceVerdict], feed: String) -> ComplianceRefusal {
        let names = verdicts.map { "\($0.subdir)/\($0.filename)" }.joined(separator: ", ")
        let reasons = Array(Set(verdicts.flatMap { $0.results.filter { $0.outcome == .noncompliant }.map(\.reason) }))
            .sorted()
        return ComplianceRefusal(
            status: .conflict, code: "noncompliant",
            message: "Not promoted: \(names) is noncompliant under the policy of feed '\(feed)': "
                + reasons.joined(separator: " "),
            feed: feed, verdicts: verdicts)
    }

    /// The body described on the type.
    public var body: JSONValue {
        .object([
            "error": .string(code),
            "message": .string(message),
            "feed": .string(feed),
            "packages": .array(
                verdicts.map { verdict in
                    .object([
                        "filename": .string(verdict.filename),
                        "subdir": .string(verdict.subdir),
                        "name": .string(verdict.name),
                        "version": .string(verdict.version),
                        "outcome": .string(verdict.outcome.rawValue),
                        "advisories": .array(
                            verdict.results.filter { $0.rule == .vulnerability && $0.outcome == .noncompliant }
                                .flatMap(\.advisoryIDs).map(JSONValue.string)),
                        "licenseRules": .array(
                            verdict.results.filter { $0.rule == .license && $0.outcome == .noncompliant }
                                .map { .string($0.reason) }),
                        "reasons": .array(
                            verdict.results.filter { $0.outcome == .noncompliant }.map { .string($0.reason) }),
                    ])
                }),
            "exceptionHint": .string(exceptionHint),
        ])
    }

    /// The JSON response (headers only for HEAD).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let bytes = body.compactJSON()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(bytes.count)
        if request.method == .head { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension ComplianceStoreGate {
    /// For a download from `feed`: throws the 403 ``ComplianceRefusal`` when the feed blocks `record`, else returns.
    func refuseDownloadIfBlocked(_ record: PackageRecord, subdir: String, feed: String) async throws {
        guard let view = await view(feed: feed), view.blocks(record, subdir: subdir) else { return }
        let verdict: ComplianceVerdict
        if let feedView = view as? FeedComplianceView {
            verdict = feedView.verdict(for: record, subdir: subdir)
        } else {
            verdict = try await context(feed: feed).verdict(for: record, subdir: subdir)
        }
        throw ComplianceRefusal.download(verdict, feed: feed)
    }

    /// Checks a file the channel is about to serve from a snapshot that does not list it (the case of blocked
    /// files): local files are looked up in `metadata`, upstream ones in the mirror's records.
    func checkDownload(
        feed: String, subdir: String, filename: String, listed: Bool, upstreamConnector: String?,
        metadata: any MetadataStore, mirror: UpstreamMirror?
    ) async throws {
        guard !listed else { return }
        if let upstreamConnector {
            guard let mirror, let connector = try await metadata.connector(named: upstreamConnector),
                let record = try await mirror.records(for: connector, subdir: subdir)?.first(where: {
                    $0.filename == filename
                })
            else { return }
            try await refuseDownloadIfBlocked(record, subdir: subdir, feed: feed)
        } else if let stored = try await metadata.package(feed: feed, subdir: subdir, filename: filename) {
            try await refuseDownloadIfBlocked(stored.record, subdir: subdir, feed: feed)
        }
    }
}
