# gnuplot script for bench/run.sh: W1, W2b and W3 as ratios to the memset of their table bytes,
# per format. Called with -e "datafile='...'; outfile='...'".
set terminal pngcairo size 1100,520 font "sans,10"
set output outfile
set title "ptlib build time / memset of the same table bytes (lower is better; 1 = memset)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 left
set ylabel "x memset"
set yrange [0:*]
set grid ytics
set datafile missing "-"
set key outside top center horizontal
plot datafile using 2:xtic(1) title "W1 (8 GiB, 4K pages)", \
     '' using 3 title "W2b (4096 x 2M)", \
     '' using 4 title "W3 (100k random pages)", \
     1.5 with lines dashtype 2 lw 1 lc rgb "black" title "W1 target 1.5"
