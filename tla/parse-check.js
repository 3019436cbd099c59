// tla/parse-check.js -- parse TLA+ files with the tree-sitter-tlaplus grammar
// (its prebuilt WebAssembly, run by web-tree-sitter: no native code).
//
// Usage: NODE_PATH=<prefix>/node_modules node tla/parse-check.js FILE...
// Prints one line per file: "PASS FILE" or "FAIL FILE <where>..." where each
// <where> is LINE:COL:ERROR or LINE:COL:MISSING(token) (1-based). Exits 0
// when every file parsed cleanly, 1 otherwise, 2 on a usage or load error.
'use strict';
const fs = require('fs');

async function main(files) {
	const Parser = require('web-tree-sitter');
	await Parser.init();
	const wasm = require.resolve(
	    '@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm');
	const TLA = await Parser.Language.load(wasm);
	const parser = new Parser();
	parser.setLanguage(TLA);
	let bad = 0;
	for (const f of files) {
		const tree = parser.parse(fs.readFileSync(f, 'utf8'));
		const where = [];
		// Walk the whole tree: tree-sitter recovers from errors and marks
		// them as ERROR nodes or zero-width MISSING nodes.
		const stack = [tree.rootNode];
		while (stack.length > 0) {
			const n = stack.pop();
			const p = n.startPosition;
			if (n.type === 'ERROR')
				where.push(`${p.row + 1}:${p.column + 1}:ERROR`);
			else if (n.isMissing)
				where.push(`${p.row + 1}:${p.column + 1}:MISSING(${n.type})`);
			if (n.hasError || n.type === 'ERROR')
				for (let i = n.childCount - 1; i >= 0; i--)
					stack.push(n.child(i));
		}
		// A file that is not one module is not a spec, whatever it holds.
		const mods = tree.rootNode.namedChildren.filter(c => c.type === 'module');
		if (where.length === 0 && mods.length !== 1)
			where.push(`1:1:NO_MODULE(${mods.length})`);
		if (where.length === 0 && tree.rootNode.hasError)
			where.push('?:?:ERROR');
		if (where.length === 0) {
			console.log(`PASS ${f}`);
		} else {
			bad++;
			console.log(`FAIL ${f} ${where.join(' ')}`);
		}
		tree.delete();
	}
	return bad === 0 ? 0 : 1;
}

if (process.argv.length < 3) {
	console.error('usage: node parse-check.js FILE...');
	process.exit(2);
}
main(process.argv.slice(2)).then(rc => process.exit(rc), e => {
	console.error(`parse-check: ${e && e.stack || e}`);
	process.exit(2);
});
