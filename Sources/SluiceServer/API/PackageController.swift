import Foundation
import Hummingbird
import Logging
import SluiceCore

/// The package API: upload, list and delete the files of a feed.
///
/// Authorization (``AccessControl``): `versions` and `cached` need View & Download on the feed, `upload` Publish
/// Packages, `delete` Delete Packages.
struct PackageController: Sendable {
    let services: SluiceServices

    /// Adds the read routes to `/api/packages`.
    func addReadRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.get("{feed}/versions", use: versions)
        group.get("{feed}/cached", use: cached)
    }

    /// Adds the routes that change a feed to `/api/packages`.
    func addWriteRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.put("{feed}/upload/{filename}", use: upload)
        group.post("{feed}/delete", use: delete)
    }

    /// `PUT /api/packages/{feed}/upload/{filename}` with the raw file as body (`?overwrite=true` to replace).
    /// See ``PackageUploader/upload(request:context:feed:filename:expectedSubdir:)`` for answers and errors.
    @Sendable func upload(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try context.parameters.require("feed")
        let filename = try context.parameters.require("filename")
        try await services.access.require(.publishPackages, feed: feed, identity: context.identity)
        return try await PackageUploader(services: services).upload(
            request: request, context: context, feed: feed, filename: filename, expectedSubdir: nil)
    }

    /// `GET /api/packages/{feed}/versions?name=N` → the feed's files (of package `N`, or all), ordered by subdir then
    /// file name: `[{"name","version","build","subdir","filename","sha256","md5","size","uploadedAt","uploadedBy",
    /// "downloads"}]`; `downloads` is the recorded count (flushed every few seconds), 0 when never downloaded.
    /// Throws `.notFound` (404) for an unknown feed.
    @Sendable func versions(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try await existingFeed(context, requiring: .viewDownload)
        let packages: [StoredPackage]
        if let name = request.uri.queryParameters.get("name"), !name.isEmpty {
            packages = try await services.metadata.packages(feed: feed.name, name: name)
        } else {
            packages = try await allPackages(feed: feed.name)
        }
        let sorted = packages.sorted { ($0.subdir, $0.filename) < ($1.subdir, $1.filename) }
        var downloads: [DownloadKey: Int64] = [:]
        if let counts = services.metadata as? any DownloadCountStore {
            for name in Set(sorted.map(\.name)) {
                for row in try await counts.downloadCounts(feed: feed.name, name: name) {
                    downloads[row.key] = row.count
                }
            }
        }
        return JSONResponse.make(
            .array(
                sorted.map {
                    $0.apiJSON(
                        downloads: downloads[DownloadKey(feed: feed.name, subdir: $0.subdir, filename: $0.filename)]
                            ?? 0)
                }))
    }

    /// `GET /api/packages/{feed}/cached` → the upstream files a proxy feed's connectors have cached, in the feed's
    /// connector order, then by subdir and file name:
    /// `[{"connector","subdir","filename","sha256","size","cachedAt","lastAccessedAt"}]`.
    /// Throws `.notFound` (404) for an unknown feed, `.invalidInput` (400) for a hosted feed (it has no connectors).
    @Sendable func cached(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try await existingFeed(context, requiring: .viewDownload)
        guard !feed.connectors.isEmpty else {
            throw SluiceError.invalidInput(
                "Feed '\(feed.name)' is a hosted feed: it has no connectors, so nothing is cached from an upstream. "
                    + "Its files are listed by /api/packages/\(feed.name)/versions.")
        }
        var files: [CachedUpstreamFile] = []
        for connector in feed.connectors {
            files += try await services.metadata.cachedFiles(connector: connector)
        }
        return JSONResponse.make(.array(files.map(\.apiJSON)))
    }

    /// `POST /api/packages/{feed}/delete` with a JSON or form body, either `{"filename", "subdir"?}` or
    /// `{"name", "version", "build"?, "subdir"?}`: deletes every matching file, republishes the affected subdirs and
    /// removes blobs nothing references any more → 200 `{"deleted": [files]}`.
    /// Throws `.notFound` (404) for an unknown feed or when nothing matches, `.invalidInput` (400) for a body that
    /// names neither a file name nor a name and version.
    @Sendable func delete(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try await existingFeed(context, requiring: .deletePackages)
        let fields = try await RequestFields.read(from: request)
        let subdir = try fields.string("subdir").flatMap { $0.isEmpty ? nil : $0 }
        var matches: [StoredPackage]
        if let filename = try fields.string("filename"), !filename.isEmpty {
            let subdirs: [String]
            if let subdir {
                subdirs = [subdir]
            } else {
                subdirs = try await services.metadata.subdirs(feed: feed.name)
            }
            matches = []
            for candidate in subdirs {
                if let package = try await services.metadata.package(
                    feed: feed.name, subdir: candidate, filename: filename)
                {
                    matches.append(package)
                }
            }
        } else if let name = try fields.string("name"), !name.isEmpty,
            let version = try fields.string("version"), !version.isEmpty
        {
            let build = try fields.string("build").flatMap { $0.isEmpty ? nil : $0 }
            matches = try await services.metadata.packages(feed: feed.name, name: name).filter {
                $0.version == version && (build == nil || $0.build == build) && (subdir == nil || $0.subdir == subdir)
            }
        } else {
            throw SluiceError.invalidInput(
                "Name the files to delete: {\"filename\": ..., \"subdir\"?: ...} or "
                    + "{\"name\": ..., \"version\": ..., \"build\"?: ..., \"subdir\"?: ...}.")
        }
        guard !matches.isEmpty else {
            throw SluiceError.notFound("Feed '\(feed.name)' holds no package file matching the request.")
        }

        var deleted: [StoredPackage] = []
        for package in matches {
            if let removed = try await services.metadata.deletePackage(
                feed: feed.name, subdir: package.subdir, filename: package.filename)
            {
                deleted.append(removed)
            }
        }
        for affected in Set(deleted.map(\.subdir)).sorted() {
            try await services.publisher.republish(feed: feed.name, subdir: affected)
        }
        await services.collectGarbage(sha256s: Set(deleted.map(\.sha256)), logger: context.logger)
        // The history of a feed shows removals next to promotions (who, when, why).
        let comments = (try? fields.string("comments")) ?? nil
        await PromotionService(services: services).recordDeletions(
            deleted, user: context.userName, comments: comments ?? "", logger: context.logger)
        context.logger.info(
            "Packages deleted",
            metadata: [
                "feed": "\(feed.name)", "files": "\(deleted.map { "\($0.subdir)/\($0.filename)" })",
                "user": "\(context.userName ?? "-")",
            ])
        guard !deleted.isEmpty else {
            throw SluiceError.notFound("Feed '\(feed.name)' holds no package file matching the request.")
        }
        let sorted = deleted.sorted { ($0.subdir, $0.filename) < ($1.subdir, $1.filename) }
        return JSONResponse.make(.object(["deleted": .array(sorted.map(\.apiJSON))]))
    }

    /// The feed of the route, after checking that the caller has `task` on it (so an unknown feed is a 404 only to
    /// those who may see it).
    private func existingFeed(_ context: SluiceRequestContext, requiring task: SecurityTask) async throws -> Feed {
        let name = try context.parameters.require("feed")
        try await services.access.require(task, feed: name, identity: context.identity)
        guard let feed = try await services.metadata.feed(named: name) else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
        return feed
    }

    private func allPackages(feed: String) async throws -> [StoredPackage] {
        var result: [StoredPackage] = []
        for subdir in try await services.metadata.subdirs(feed: feed) {
            result += try await services.metadata.packages(feed: feed, subdir: subdir)
        }
        return result
    }
}
