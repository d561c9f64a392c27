import Foundation
import Hummingbird
import Logging
import NIOPosix
import SluiceCore

/// Accepts one package file: the handler behind `PUT /api/packages/{feed}/upload/{filename}` and the conda-native
/// `PUT /conda/{feed}/{subdir}/{filename}`.
///
/// The path never leaves a half state (see docs/architecture.md, "Upload path"): the body streams into a temporary
/// file that is always removed; the file is inspected before anything is stored; the blob is stored under its sha256,
/// then the row is committed in one transaction, then the subdir is republished.
struct PackageUploader: Sendable {
    let services: SluiceServices

    /// Uploads the request body as `filename` into `feed`.
    ///
    /// - Parameter expectedSubdir: the subdir named by the URL (conda-native route); the package's index.json must
    ///   agree with it.
    /// - Returns: 201 `{"feed","subdir","filename","name","version","build","sha256","md5","size","status"}` with
    ///   status `added` or `replaced`, or 200 with `unchanged` for identical bytes.
    /// - Throws: `.notFound` (404) for an unknown feed (before reading the body); `.payloadTooLarge` (413) over
    ///   `uploads.maxSize`; `.invalidInput`/`.invalidPackage` (400) for an empty body, a bad file name, a file that is
    ///   not a valid conda package, a name or subdir mismatch; `.conflict` (409) when the feed holds other bytes under
    ///   this file name and `?overwrite=true` is not given.
    func upload(
        request: Request, context: SluiceRequestContext, feed feedName: String, filename: String,
        expectedSubdir: String?
    ) async throws -> Response {
        guard let feed = try await services.metadata.feed(named: feedName) else {
            throw SluiceError.notFound("There is no feed named '\(feedName)'.")
        }
        guard feed.kind == .hosted else {
            throw SluiceError.invalidInput(
                "Feed '\(feedName)' is a \(feed.kind.rawValue) feed; upload to a hosted feed.")
        }
        guard let parsedName = PackageFilename(filename) else {
            throw SluiceError.invalidPackage(
                "'\(filename)' is not a conda package file name: expected <name>-<version>-<build>.conda or .tar.bz2.")
        }
        let overwrite = Self.flag(request.uri.queryParameters.get("overwrite"))
        let limit = services.configuration.uploads.maxSize
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > limit {
            throw SluiceError(
                .payloadTooLarge,
                "The upload (\(declared) bytes) is larger than the configured maximum of \(limit) bytes (uploads.maxSize)."
            )
        }

        let temporaryFile = services.temporaryFileURL()
        defer { try? FileManager.default.removeItem(at: temporaryFile) }
        let size = try await UploadFileWriter.write(request.body, to: temporaryFile, limit: limit)
        guard size > 0 else {
            throw SluiceError.invalidInput("The request body is empty; send the package file as the body.")
        }

        let inspected = try await inspect(temporaryFile, filename: filename)
        let record = inspected.record
        guard record.name == parsedName.name, record.version == parsedName.version, record.build == parsedName.build
        else {
            throw SluiceError.invalidPackage(
                "The file name '\(filename)' does not match the package's info/index.json "
                    + "(\(record.name) \(record.version) \(record.build)); it must be "
                    + "\(record.name)-\(record.version)-\(record.build)\(parsedName.format.fileExtension).")
        }
        if let expectedSubdir, expectedSubdir != inspected.subdir {
            throw SluiceError.invalidPackage(
                "The package is built for subdir '\(inspected.subdir)' (info/index.json), but was uploaded to "
                    + "'\(expectedSubdir)'; upload it to /conda/\(feedName)/\(inspected.subdir)/\(filename).")
        }
        let subdir = inspected.subdir

        // Refuse a conflict before storing anything, so a refused upload leaves no blob behind.
        if !overwrite,
            let existing = try await services.metadata.package(feed: feedName, subdir: subdir, filename: filename),
            existing.sha256 != record.sha256
        {
            throw Self.conflict(feed: feedName, subdir: subdir, filename: filename)
        }

        let stored = StoredPackage(
            feed: feedName, subdir: subdir, record: record, channelData: inspected.channelData,
            uploadedAt: Date(), uploadedBy: context.userName)
        let services = self.services
        let outcome: AddPackageOutcome = try await services.blobLocks.withLock(record.sha256) {
            let blobExisted = try await services.blobs.contains(sha256: record.sha256)
            try await services.blobs.put(sha256: record.sha256, from: temporaryFile)
            do {
                return try await services.metadata.addPackage(stored, overwrite: overwrite)
            } catch {
                // A concurrent upload won the file name, or the database failed: drop the blob if nothing uses it.
                if !blobExisted, (try? await services.metadata.referenceCount(sha256: record.sha256)) == 0 {
                    try? await services.blobs.delete(sha256: record.sha256)
                }
                if let error = error as? SluiceError, error.code == .conflict {
                    throw Self.conflict(feed: feedName, subdir: subdir, filename: filename)
                }
                throw error
            }
        }
        let status: String
        switch outcome {
        case .added: status = "added"
        case .unchanged: status = "unchanged"
        case .replaced(let previous):
            status = "replaced"
            await services.collectGarbage(sha256s: [previous], logger: context.logger)
        }
        // Also after "unchanged": republishing is idempotent and heals a publish that failed after an earlier commit.
        try await services.publisher.republish(feed: feedName, subdir: subdir)
        context.logger.info(
            "Package uploaded",
            metadata: [
                "feed": "\(feedName)", "subdir": "\(subdir)", "filename": "\(filename)", "status": "\(status)",
                "size": "\(size)", "user": "\(context.userName ?? "-")",
            ])

        let body: JSONValue = .object([
            "feed": .string(feedName),
            "subdir": .string(subdir),
            "filename": .string(filename),
            "name": .string(record.name),
            "version": .string(record.version),
            "build": .string(record.build),
            "sha256": .string(record.sha256),
            "md5": .string(record.md5),
            "size": .int(record.size),
            "status": .string(status),
        ])
        return JSONResponse.make(body, status: outcome == .unchanged ? .ok : .created)
    }

    /// Runs the (CPU- and disk-bound) inspection on NIO's thread pool.
    private func inspect(_ file: URL, filename: String) async throws -> InspectedPackage {
        let inspector = PackageInspector()
        let result: Result<InspectedPackage, SluiceError> = try await NIOThreadPool.singleton.runIfActive {
            do throws(SluiceError) {
                return .success(try inspector.inspect(file: file, filename: filename))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func conflict(feed: String, subdir: String, filename: String) -> SluiceError {
        SluiceError.conflict(
            "Feed '\(feed)' already has \(subdir)/\(filename) with different content. "
                + "Add ?overwrite=true to replace it.")
    }

    static func flag(_ value: String?) -> Bool {
        guard let value = value?.lowercased() else { return false }
        return value == "true" || value == "1" || value == "yes"
    }
}
