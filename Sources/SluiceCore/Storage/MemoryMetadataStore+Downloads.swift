import Foundation

extension MemoryMetadataStore: DownloadCountStore {
    /// Adds the deltas to the counts; see ``DownloadCountStore/addDownloads(_:at:)``.
    public func addDownloads(_ deltas: [DownloadKey: Int64], at date: Date) {
        for (key, delta) in deltas where delta > 0 {
            var row = downloadCountsByKey[key] ?? DownloadCount(key: key, count: 0, lastDownloadedAt: date)
            row.count += delta
            row.lastDownloadedAt = date
            downloadCountsByKey[key] = row
        }
    }

    /// The counts of package `name`'s files in `feed`, ordered by subdir then filename (UTF-8 bytes).
    public func downloadCounts(feed: String, name: String) -> [DownloadCount] {
        downloadCountsByKey.values
            .filter { $0.key.feed == feed && Self.isFile($0.key.filename, ofPackage: name) }
            .sorted {
                $0.key.subdir == $1.key.subdir
                    ? $0.key.filename.utf8.lexicographicallyPrecedes($1.key.filename.utf8)
                    : $0.key.subdir.utf8.lexicographicallyPrecedes($1.key.subdir.utf8)
            }
    }
}
