import Foundation
import Logging

@testable import SluiceStorage

/// Runs `body` with a SQLite store on a file in a fresh temporary folder, then shuts the store down and removes the
/// folder, whether `body` threw or not.
func withSQLiteFileStore(_ body: (SQLMetadataStore) async throws -> Void) async throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanUp() }
    let store = try await SQLMetadataStore.sqlite(
        file: folder.url.appendingPathComponent("sluice.sqlite"), logger: Logger(label: "sluice.storage.tests"))
    try await withShutdown(store, body)
}

/// Runs `body` with an in-memory SQLite store, then shuts it down, whether `body` threw or not.
func withSQLiteInMemoryStore(_ body: (SQLMetadataStore) async throws -> Void) async throws {
    try await withShutdown(try await SQLMetadataStore.sqliteInMemory(), body)
}

private func withShutdown(
    _ store: SQLMetadataStore, _ body: (SQLMetadataStore) async throws -> Void
) async throws {
    do {
        try await body(store)
    } catch {
        try await store.shutdown()
        throw error
    }
    try await store.shutdown()
}
