import Foundation

/// The records of one build with duplicate file names removed (the last one wins) and each section's records ordered
/// by file name (UTF-8 bytes): the shared input of `repodata.json`, `current_repodata.json` and the shards, so that
/// one build deduplicates and sorts once.
struct RecordTable {
    /// The unique records, in input order (a duplicate takes the place of the first record with its name).
    let records: [PackageRecord]
    /// Indices into ``records`` of the `.tar.bz2` records, sorted by file name.
    let tarBz2: [Int]
    /// Indices into ``records`` of the `.conda` records, sorted by file name.
    let conda: [Int]

    /// - Parameter knownUnique: the caller has checked that no two records share a file name (the table then skips
    ///   its own check).
    init(records input: [PackageRecord], knownUnique: Bool = false) {
        var records: [PackageRecord] = []
        if knownUnique {
            records = input
        } else {
            var position: [String: Int] = Dictionary(minimumCapacity: input.count)
            records.reserveCapacity(input.count)
            for record in input {
                if let index = position[record.filename] {
                    records[index] = record
                } else {
                    position[record.filename] = records.count
                    records.append(record)
                }
            }
        }
        var tarBz2: [Int] = []
        var conda: [Int] = []
        for (index, record) in records.enumerated() {
            if record.format == .conda { conda.append(index) } else { tarBz2.append(index) }
        }
        let filenames = records.map(\.filename)
        filenames.withUnsafeBufferPointer { names in
            let byName: (Int, Int) -> Bool = { JSONWriter.utf8Precedes(names[$0], names[$1]) }
            // Upstream repodata (and so the usual input) is already in file name order: check before sorting.
            for index in 0..<2 {
                var order = index == 0 ? tarBz2 : conda
                let sorted = zip(order, order.dropFirst()).allSatisfy { byName($0, $1) }
                if !sorted { order.sort(by: byName) }
                if index == 0 { tarBz2 = order } else { conda = order }
            }
        }
        self.records = records
        self.tarBz2 = tarBz2
        self.conda = conda
    }
}

/// Record JSON a build may copy instead of serializing: the `repodata.json` of the previous snapshot and where each
/// record's value lies in it, valid for a file name whose record is still equal to `records[filename]`.
struct RecordJSONReuse: Sendable {
    let document: Data
    let ranges: [String: Range<Int>]
    let records: [String: PackageRecord]
}

/// Writes `repodata.json` (and `current_repodata.json`) from a ``RecordTable``, in parallel chunks, copying the JSON
/// of records that did not change since the previous snapshot.
enum RepodataWriter {
    /// The written document and, per index of ``RecordTable/records``, the byte range of the record's JSON value.
    struct Document {
        /// The document (in storage from a ``DocumentStorage``).
        var data: Data
        var valueRanges: [Range<Int>]
        /// The document as an array (a copy).
        var bytes: [UInt8] { Array(data) }
    }

    /// A written chunk of records.
    private struct Chunk {
        var bytes: [UInt8]
        var valueRanges: [Range<Int>]
    }

    /// Records per parallel work item: small enough to balance, large enough that the bookkeeping does not show.
    static let chunkSize = 4096

    /// `repodata.json` for `table`: `{"info":{"subdir":S},"packages":{…},"packages.conda":{…},"removed":[],
    /// "repodata_version":1}` with every record value written compact with sorted keys, or copied from `reuse`.
    static func repodata(
        subdir: String, table: RecordTable, reuse: RecordJSONReuse?, storage: DocumentStorage = .arrays
    ) -> Document {
        let records = table.records
        let write: (Int, inout [UInt8], UnsafeRawBufferPointer?) -> Void = { index, output, previous in
            let record = records[index]
            if let previous, let reuse, let range = reuse.ranges[record.filename],
                reuse.records[record.filename] == record
            {
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: previous[range]))
            } else {
                JSONWriter.appendObject(record.fields, to: &output)
            }
        }
        if let reuse {
            return reuse.document.withUnsafeBytes { previous in
                assemble(
                    subdir: subdir, table: table, tarBz2: table.tarBz2, conda: table.conda, storage: storage
                ) { index, output in
                    write(index, &output, previous)
                }
            }
        }
        return assemble(
            subdir: subdir, table: table, tarBz2: table.tarBz2, conda: table.conda, storage: storage
        ) { index, output in
            write(index, &output, nil)
        }
    }

    /// `current_repodata.json` of the kept records (indices into `table.records`): each record's JSON copied from
    /// `repodata` (the document just written for the same table), `.conda` records with `legacy_bz2_md5` merged in at
    /// its sorted position (the md5 of the `.tar.bz2` twin from `legacyMD5`, keyed by record index, else `null`).
    static func current(
        subdir: String, table: RecordTable, kept: [Bool], legacyMD5: [Int: JSONValue], repodata: Document,
        storage: DocumentStorage = .arrays
    ) -> Data {
        let records = table.records
        let tarBz2 = table.tarBz2.filter { kept[$0] }
        let conda = table.conda.filter { kept[$0] }
        let condaSet = Set(conda)
        return repodata.data.withUnsafeBytes { written in
            assemble(subdir: subdir, table: table, tarBz2: tarBz2, conda: conda, storage: storage) { index, output in
                let json = UnsafeRawBufferPointer(rebasing: written[repodata.valueRanges[index]])
                guard condaSet.contains(index) else {
                    output.append(contentsOf: json)
                    return
                }
                let md5 = legacyMD5[index] ?? .null
                if !appendObject(json, inserting: legacyKey, value: md5, to: &output) {
                    JSONWriter.appendObject(
                        records[index].fields, extraKey: "legacy_bz2_md5", extraValue: md5, to: &output)
                }
            }
        }.data
    }

    private static let legacyKey = Array("legacy_bz2_md5".utf8)

    /// Writes the document frame around the sections, writing each record value with `value` in parallel chunks.
    private static func assemble(
        subdir: String, table: RecordTable, tarBz2: [Int], conda: [Int], storage: DocumentStorage,
        value: @escaping (Int, inout [UInt8]) -> Void
    ) -> Document {
        let records = table.records
        // Work items: (section, range of positions in that section's order).
        var items: [(conda: Bool, range: Range<Int>)] = []
        for (isConda, order) in [(false, tarBz2), (true, conda)] {
            var start = 0
            while start < order.count {
                let end = min(order.count, start + chunkSize)
                items.append((isConda, start..<end))
                start = end
            }
        }
        let chunks = ParallelSlots<Chunk>(count: items.count)
        let run: (Int) -> Void = { item in
            let (isConda, range) = items[item]
            let order = isConda ? conda : tarBz2
            var output: [UInt8] = []
            output.reserveCapacity(range.count * 600)
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(range.count)
            for position in range {
                let index = order[position]
                if position != range.lowerBound { output.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(records[index].filename, to: &output)
                output.append(UInt8(ascii: ":"))
                let start = output.count
                value(index, &output)
                ranges.append(start..<output.count)
            }
            chunks.set(item, .success(Chunk(bytes: output, valueRanges: ranges)))
        }
        if items.count > 1 {
            // Each iteration writes only its own slot; the captured arrays and buffers are only read.
            let work = UncheckedSendable(run)
            DispatchQueue.concurrentPerform(iterations: items.count) { work.value($0) }
        } else if items.count == 1 {
            run(0)
        }

        // The frame, then the exact size, so that the document is written once into its final storage.
        var header: [UInt8] = []
        JSONWriter.appendLiteral("{\"info\":{\"subdir\":", to: &header)
        JSONWriter.appendString(subdir, to: &header)
        JSONWriter.appendLiteral("},\"packages\":{", to: &header)
        let middle = Array("},\"packages.conda\":{".utf8)
        let footer = Array("},\"removed\":[],\"repodata_version\":1}".utf8)
        var total = header.count + middle.count + footer.count
        for isConda in [false, true] {
            let count = items.count { $0.conda == isConda }
            if count > 1 { total += count - 1 }  // the commas between chunks
        }
        for item in 0..<items.count { total += (try? chunks.get(item).bytes.count) ?? 0 }
        var valueRanges = [Range<Int>](repeating: 0..<0, count: records.count)
        let data = storage.make(total) { output in
            var position = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                precondition(position + bytes.count <= output.count, "repodata size miscomputed")
                if let base = bytes.baseAddress, bytes.count > 0 {
                    (output.baseAddress! + position).copyMemory(from: base, byteCount: bytes.count)
                }
                position += bytes.count
            }
            header.withUnsafeBytes { put($0) }
            var item = 0
            for isConda in [false, true] {
                if isConda { middle.withUnsafeBytes { put($0) } }
                let order = isConda ? conda : tarBz2
                var first = true
                while item < items.count, items[item].conda == isConda {
                    // Every item was set above; a missing one would be a bug in this function.
                    guard let chunk = try? chunks.get(item) else { break }
                    if !first { withUnsafeBytes(of: UInt8(ascii: ",")) { put($0) } }
                    first = false
                    let base = position
                    chunk.bytes.withUnsafeBytes { put($0) }
                    for (offset, position) in items[item].range.enumerated() {
                        let range = chunk.valueRanges[offset]
                        valueRanges[order[position]] = (range.lowerBound + base)..<(range.upperBound + base)
                    }
                    chunks.set(item, .success(Chunk(bytes: [], valueRanges: [])))  // free it now
                    item += 1
                }
            }
            footer.withUnsafeBytes { put($0) }
            precondition(position == output.count, "repodata size miscomputed")
        }
        return Document(data: data, valueRanges: valueRanges)
    }

    // MARK: Merging a member into compact JSON

    /// Appends the compact JSON object `json` (as this module writes it: sorted keys, no spaces) with the member
    /// `key: value` merged in at its sorted position, replacing a member of the same key. Returns false (and appends
    /// nothing) when `json` has a key with an escape, where byte order of the written form is not the key order.
    static func appendObject(
        _ json: UnsafeRawBufferPointer, inserting key: [UInt8], value: JSONValue, to output: inout [UInt8]
    ) -> Bool {
        let bytes = json.bindMemory(to: UInt8.self)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "{") else { return false }
        // Members as (key range, member range).
        var members: [(key: Range<Int>, member: Range<Int>)] = []
        var index = 1
        if bytes[index] != UInt8(ascii: "}") {
            while index < bytes.count {
                let memberStart = index
                guard bytes[index] == UInt8(ascii: "\"") else { return false }
                var keyEnd = index + 1
                while keyEnd < bytes.count, bytes[keyEnd] != UInt8(ascii: "\"") {
                    if bytes[keyEnd] == UInt8(ascii: "\\") { return false }
                    keyEnd += 1
                }
                guard keyEnd + 1 < bytes.count, bytes[keyEnd + 1] == UInt8(ascii: ":") else { return false }
                guard let valueEnd = skipValue(bytes, from: keyEnd + 2) else { return false }
                members.append(((memberStart + 1)..<keyEnd, memberStart..<valueEnd))
                index = valueEnd
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    break
                } else {
                    return false
                }
            }
        }
        output.append(UInt8(ascii: "{"))
        var first = true
        var inserted = false
        func separate() {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
        }
        func insert() {
            separate()
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: key)
            output.append(UInt8(ascii: "\""))
            output.append(UInt8(ascii: ":"))
            value.write(into: &output)
            inserted = true
        }
        for member in members {
            let memberKey = UnsafeBufferPointer(rebasing: bytes[member.key])
            let order = compare(memberKey, key)
            if !inserted, order >= 0 { insert() }
            if order == 0 { continue }
            separate()
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[member.member]))
        }
        if !inserted { insert() }
        output.append(UInt8(ascii: "}"))
        return true
    }

    /// memcmp order of two byte strings: negative, zero or positive.
    private static func compare(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: [UInt8]) -> Int {
        let count = min(lhs.count, rhs.count)
        for offset in 0..<count where lhs[offset] != rhs[offset] {
            return lhs[offset] < rhs[offset] ? -1 : 1
        }
        return lhs.count - rhs.count
    }

    /// The index just past the compact JSON value starting at `start`, or nil if it runs past the end.
    private static func skipValue(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        var depth = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                if depth == 0 { return index <= bytes.count ? index : nil }
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
                index += 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                if depth == 0 { return index }
                depth -= 1
                index += 1
                if depth == 0 { return index }
            } else if byte == UInt8(ascii: ","), depth == 0 {
                return index
            } else {
                index += 1
            }
        }
        return nil
    }
}

/// A value handed to `DispatchQueue.concurrentPerform` iterations that only read it (or write disjoint slots).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
