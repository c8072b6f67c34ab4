/** A plain-text table with right-aligned numbers. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
    const cells = [headers, ...rows].map((row) => row.map(String));
    const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
    return cells
        .map((row) =>
            row
                .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

export function percent(fraction: number): string {
    return `${(100 * fraction).toFixed(1)}%`;
}

export function seconds(value: number | undefined): string {
    return value === undefined ? "-" : `${Math.round(value)} s`;
}
