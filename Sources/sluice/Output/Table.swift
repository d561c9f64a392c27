import SluiceCore

/// A plain-text table for human-readable output: a header row, a dashed rule, and left-aligned columns.
struct Table {
    var headers: [String]
    var rows: [[String]]

    /// Builds a table from JSON objects, one row each, with the given columns (key and header). A column whose key
    /// no object carries is left out; when none of the keys is present, every key of the objects is shown.
    init(objects: [JSONValue], columns: [(key: String, header: String)]) {
        let dictionaries = objects.compactMap(\.objectValue)
        var chosen = columns.filter { column in dictionaries.contains { $0[column.key] != nil } }
        if chosen.isEmpty {
            let keys = Set(dictionaries.flatMap(\.keys)).sorted()
            chosen = keys.map { ($0, $0.uppercased()) }
        }
        headers = chosen.map(\.header)
        rows = dictionaries.map { dictionary in
            chosen.map { dictionary[$0.key].map(Table.display) ?? "" }
        }
    }

    init(headers: [String], rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    /// The table as text, without a trailing newline.
    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                text += isLast ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(headers), line(widths.map { String(repeating: "-", count: $0) })]
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }

    /// A JSON value as a table cell: strings as they are, lists joined with commas, objects compact.
    static func display(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag ? "yes" : "no"
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .string(let text): return text
        case .array(let items): return items.map(display).joined(separator: ", ")
        case .object(let fields):
            return fields.keys.sorted().map { "\($0)=\(display(fields[$0]!))" }.joined(separator: " ")
        }
    }
}

/// Prints `key: value` lines for one JSON object, keys in the given order first, then the rest sorted.
func renderDetails(_ value: JSONValue, preferredOrder: [String]) -> String {
    guard let fields = value.objectValue else { return Table.display(value) }
    let rest = fields.keys.filter { !preferredOrder.contains($0) }.sorted()
    let keys = preferredOrder.filter { fields[$0] != nil } + rest
    let width = keys.map(\.count).max() ?? 0
    return keys.map { key in
        "\(key):".padding(toLength: width + 2, withPad: " ", startingAt: 0) + Table.display(fields[key]!)
    }.joined(separator: "\n")
}

/// Finds the list in an API answer: the answer itself when it is an array, else the first array-valued field of an
/// object (for answers shaped like `{"packages": [...]}`).
func listItems(in value: JSONValue) -> [JSONValue] {
    if let items = value.arrayValue { return items }
    if let fields = value.objectValue {
        for key in fields.keys.sorted() {
            if let items = fields[key]?.arrayValue { return items }
        }
    }
    return []
}
