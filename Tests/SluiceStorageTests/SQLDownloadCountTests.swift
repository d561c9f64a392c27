import Foundation
import Logging
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

@Suite("SQLMetadataStore as a DownloadCountStore")
struct SQLDownloadCountTests {
    @Test("SQLite file conformance", arguments: DownloadCountStoreConformance.checks)
    func sqliteFile(_ check: DownloadCountStoreConformance.Check) async throws {
        try await withSQLiteFileStore { try await check.run($0) }
    }

    @Test("counts survive closing and reopening the database, and a second store on it adds to them")
    func restart() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("sluice.sqlite")
        let logger = Logger(label: "sluice.downloads.tests")
        let key = DownloadKey(feed: "main", subdir: "noarch", filename: "tzdata-2024a-0.conda")
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        let first = try await SQLMetadataStore.sqlite(file: file, logger: logger)
        try await first.addDownloads([key: 3], at: date)
        try await first.shutdown()
        let second = try await SQLMetadataStore.sqlite(file: file, logger: logger)
        let reopened = try await second.downloadCounts(feed: "main", name: "tzdata")
        try await second.addDownloads([key: 2], at: date)
        let added = try await second.downloadCounts(feed: "main", name: "tzdata")
        try await second.shutdown()
        #expect(reopened == [DownloadCount(key: key, count: 3, lastDownloadedAt: date)])
        #expect(added.map(\.count) == [5])
    }
}
